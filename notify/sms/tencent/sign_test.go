package tencent

import "testing"

// The worked example of "Signature v3": DescribeInstances on CVM, POST JSON,
// timestamp 1551113065. The documentation has carried it with two key pairs;
// both published results are reproduced.
func TestSignDocumentedExample(t *testing.T) {
	t.Parallel()
	in := SignInput{
		Method:       "POST",
		CanonicalURI: "/",
		ContentType:  "application/json; charset=utf-8",
		Host:         "cvm.tencentcloudapi.com",
		Payload:      []byte(`{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}`),
		Service:      "cvm",
		Timestamp:    1551113065,
	}
	if got, want := HashPayload(in.Payload), "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"; got != want {
		t.Fatalf("HashedRequestPayload = %s, want %s", got, want)
	}
	wantCanonical := "POST\n" +
		"/\n" +
		"\n" +
		"content-type:application/json; charset=utf-8\n" +
		"host:cvm.tencentcloudapi.com\n" +
		"\n" +
		"content-type;host\n" +
		"35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
	if got := CanonicalRequest(in); got != wantCanonical {
		t.Fatalf("CanonicalRequest:\n%s\nwant:\n%s", got, wantCanonical)
	}
	wantSTS := "TC3-HMAC-SHA256\n" +
		"1551113065\n" +
		"2019-02-25/cvm/tc3_request\n" +
		"5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
	if got := StringToSign(in); got != wantSTS {
		t.Fatalf("StringToSign:\n%s\nwant:\n%s", got, wantSTS)
	}

	published := []struct{ secretID, secretKey, signature string }{
		// Current text of the page.
		{"AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******", "Gu5t9xGARNpq86cd98joQYCN3*******",
			"2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"},
		// Earlier text (and its translations) with the ...EXAMPLE keys.
		{"AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
			"72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"},
	}
	for _, p := range published {
		if got := Signature(p.secretKey, in); got != p.signature {
			t.Errorf("Signature with %s = %s, want %s", p.secretKey, got, p.signature)
		}
		want := "TC3-HMAC-SHA256 Credential=" + p.secretID + "/2019-02-25/cvm/tc3_request, " +
			"SignedHeaders=content-type;host, Signature=" + p.signature
		if got := Authorization(p.secretID, p.secretKey, in); got != want {
			t.Errorf("Authorization:\n%s\nwant:\n%s", got, want)
		}
	}
}

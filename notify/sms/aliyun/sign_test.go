package aliyun

import (
	"net/url"
	"testing"
)

// TestSignDocumentedExample reproduces "Signature examples / Fixed parameter
// values" of the V3 signature document, step by step.
func TestSignDocumentedExample(t *testing.T) {
	t.Parallel()
	in := SignInput{
		Method: "POST",
		Path:   "/",
		Query: url.Values{
			"ImageId":  {"win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"},
			"RegionId": {"cn-shanghai"},
		},
		Headers: map[string]string{
			"host":                  "ecs.cn-shanghai.aliyuncs.com",
			"x-acs-action":          "RunInstances",
			"x-acs-version":         "2014-05-26",
			"x-acs-date":            "2023-10-26T10:22:32Z",
			"x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
			"x-acs-content-sha256":  HashPayload(nil),
		},
	}
	if got, want := HashPayload(nil), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Fatalf("HashPayload = %s, want %s", got, want)
	}
	canonical, signed := CanonicalRequest(in)
	wantCanonical := "POST\n" +
		"/\n" +
		"ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai\n" +
		"host:ecs.cn-shanghai.aliyuncs.com\n" +
		"x-acs-action:RunInstances\n" +
		"x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n" +
		"x-acs-date:2023-10-26T10:22:32Z\n" +
		"x-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\n" +
		"x-acs-version:2014-05-26\n" +
		"\n" +
		"host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n" +
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if canonical != wantCanonical {
		t.Fatalf("canonical request:\n%s\nwant:\n%s", canonical, wantCanonical)
	}
	sts := StringToSign(canonical)
	if want := "ACS3-HMAC-SHA256\n7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"; sts != want {
		t.Fatalf("string to sign:\n%s\nwant:\n%s", sts, want)
	}
	if got, want := Signature("YourAccessKeySecret", sts), "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"; got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
	want := "ACS3-HMAC-SHA256 Credential=YourAccessKeyId," +
		"SignedHeaders=" + signed + "," +
		"Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
	if got := Sign("YourAccessKeyId", "YourAccessKeySecret", in); got != want {
		t.Fatalf("Authorization = %s, want %s", got, want)
	}
}

func TestPercentEncode(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"a b":               "a%20b",
		"*":                 "%2A",
		"~-_.":              "~-_.",
		`{"name":"张三"}`:     "%7B%22name%22%3A%22%E5%BC%A0%E4%B8%89%22%7D",
		"https://x.cn/?a=1": "https%3A%2F%2Fx.cn%2F%3Fa%3D1",
	}
	for in, want := range cases {
		if got := PercentEncode(in); got != want {
			t.Errorf("PercentEncode(%q) = %q, want %q", in, got, want)
		}
	}
}

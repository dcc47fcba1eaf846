package api_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"duebell/api"
)

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// importEncoded posts body to /api/v1/import with the Content-Encoding enc.
func (b bundle) importEncoded(t *testing.T, q, enc string, body []byte) response {
	t.Helper()
	req := httptest.NewRequest("POST", "/api/v1/import"+q, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+ingestToken)
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Content-Encoding", enc)
	rec := newRecorder(b, req)
	res := response{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if err := json.Unmarshal(rec.Body.Bytes(), &res.body); err != nil {
		t.Fatalf("import: body is not JSON: %q", res.raw)
	}
	return res
}

// TestImportContentEncoding: a nightly file sent compressed, as HTTP says,
// with Content-Encoding: gzip, was read as if it were the NDJSON itself:
// every "line" of the compressed bytes was refused (bad_json) and the
// answer was a 200. A gzip body is now read decompressed (the limit holds
// for what it expands to, so a small bomb is a 413); a body that says gzip
// and is not, or is cut off, is a 400 naming the problem that stores
// nothing of an atomic import and logs no error; any other coding is a 415.
func TestImportContentEncoding(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"postgres", "sqlite"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			b := setupOn(t, store, func(c *api.Config) { c.ImportMaxBytes = 64 << 10 })
			file := ndjson(importCustomer("c1"), importPlan("p1", "c1"))

			before := b.snapshot(t)
			refusals := []struct {
				name, enc string
				body      []byte
				status    int
				code, msg string
			}{
				{"brotli", "br", []byte(file), http.StatusUnsupportedMediaType, "unsupported_media_type", "br"},
				{"gzip twice", "gzip, gzip", gzipped(t, string(gzipped(t, file))), http.StatusUnsupportedMediaType, "unsupported_media_type", "gzip"},
				{"says gzip, is not", "gzip", []byte(file), http.StatusBadRequest, "bad_encoding", "gzip"},
				{"cut off", "gzip", gzipped(t, file)[:40], http.StatusBadRequest, "bad_encoding", "gzip"},
				{"expands past the limit", "gzip", gzipped(t, file+strings.Repeat("\n", 128<<10)), http.StatusRequestEntityTooLarge, "too_large", "larger"},
			}
			for _, tt := range refusals {
				res := b.importEncoded(t, "?atomic=true", tt.enc, tt.body)
				code, msg := res.errorOf()
				if res.status != tt.status || code != tt.code || !strings.Contains(msg, tt.msg) {
					t.Errorf("%s: %d %s, want %d %s mentioning %q", tt.name, res.status, res.raw, tt.status, tt.code, tt.msg)
				}
			}
			assertUnchanged(t, before, b.snapshot(t))
			if strings.Contains(b.logs.String(), `"level":"ERROR"`) {
				t.Errorf("a refused import logged an error:\n%s", b.logs.String())
			}

			for _, enc := range []string{"gzip", "x-gzip", "identity"} {
				body := []byte(file)
				if enc != "identity" {
					body = gzipped(t, file)
				}
				res := b.importEncoded(t, "", enc, body)
				created, updated, unchanged, refused := counts(t, res)
				want := [4]int{2, 0, 0, 0}
				if enc != "gzip" {
					want = [4]int{0, 0, 2, 0}
				}
				if res.status != http.StatusOK || [4]int{created, updated, unchanged, refused} != want {
					t.Errorf("%s: %d %s, want 200 with created, updated, unchanged, refused = %v", enc, res.status, res.raw, want)
				}
			}
		})
	}
}

// putEncoded puts body to path with the Content-Encoding enc.
func (b bundle) putEncoded(t *testing.T, path, enc string, body []byte) response {
	t.Helper()
	req := httptest.NewRequest("PUT", path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+ingestToken)
	req.Header.Set("Content-Encoding", enc)
	rec := newRecorder(b, req)
	res := response{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if err := json.Unmarshal(rec.Body.Bytes(), &res.body); err != nil {
		t.Fatalf("put: body is not JSON: %q", res.raw)
	}
	return res
}

// The JSON routes read a gzip body as the import does: a customer pushed
// compressed is stored; a body that says gzip and is not is a 400
// bad_encoding, any other coding a 415, and a small body that expands past
// the limit a 413 — each naming what is wrong, none storing anything.
// Before, every compressed body was "malformed JSON".
func TestJSONRoutesContentEncoding(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *api.Config) { c.MaxBodyBytes = 4 << 10 })
	before := b.snapshot(t)
	for _, tc := range []struct {
		name, enc string
		body      []byte
		status    int
		code      string
	}{
		{"not gzip", "gzip", []byte(customerJSON), http.StatusBadRequest, "bad_encoding"},
		{"cut off", "gzip", gzipped(t, customerJSON)[:20], http.StatusBadRequest, "bad_encoding"},
		{"brotli", "br", []byte(customerJSON), http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"expands past the limit", "gzip", gzipped(t, `{"name":"`+strings.Repeat("李", 4<<10)+`"}`),
			http.StatusRequestEntityTooLarge, "too_large"},
	} {
		res := b.putEncoded(t, "/api/v1/customers/c1", tc.enc, tc.body)
		if code, msg := res.errorOf(); res.status != tc.status || code != tc.code || msg == "" {
			t.Errorf("%s: %d %s, want %d %s with a message", tc.name, res.status, res.raw, tc.status, tc.code)
		}
	}
	assertUnchanged(t, before, b.snapshot(t))
	res := b.putEncoded(t, "/api/v1/customers/c1", "gzip", gzipped(t, customerJSON))
	if res.status != http.StatusCreated || res.body["name"] != "李雷" {
		t.Fatalf("gzip body: %d %s, want 201 with the customer", res.status, res.raw)
	}
}

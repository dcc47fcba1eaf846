package api

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every error code the server sends is listed in openapi.json's Error
// schema, which clients generate their handling from (bad_query, timeout,
// unavailable and others were missing).
func TestOpenAPIListsEveryErrorCode(t *testing.T) {
	t.Parallel()
	var doc struct {
		Components struct {
			Schemas struct {
				Error struct {
					Properties struct {
						Error struct {
							Properties struct {
								Code struct {
									Description string `json:"description"`
								} `json:"code"`
							} `json:"properties"`
						} `json:"error"`
					} `json:"properties"`
				} `json:"Error"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, c := range strings.Split(strings.TrimPrefix(doc.Components.Schemas.Error.Properties.Error.Properties.Code.Description, "machine-readable: "), ", ") {
		listed[c] = true
	}
	// A code is a code* constant or the literal code of an apiError.
	sent := regexp.MustCompile(`code[A-Z]\w*\s*=\s*"([a-z_]+)"|apiError\{[^,{}]+,\s*"([a-z_]+)"`)
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range sent.FindAllStringSubmatch(string(src), -1) {
			if c := m[1] + m[2]; !listed[c] {
				t.Errorf("%s sends error code %q, which openapi.json's Error.code does not list", f, c)
			}
		}
	}
}

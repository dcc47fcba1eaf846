package api

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"duebell/kinds"
)

// openapiSource is the OpenAPI 3.1 contract of every /api/v1 route and the
// receipt hooks, with the facts of the notice kinds left as markers:
// "$EVENT_KINDS" in an enum stands for the event kinds, "$EVENT_PAYLOAD" for
// the description of which payload keys each takes. openapiJSON fills them
// from the registry (package kinds), so a new kind needs no edit here.
// TestOpenAPI sends each of the document's examples to the live handlers,
// checks every answer against it, and fails on a route it lacks.
//
//go:embed openapi.json
var openapiSource []byte

// openapiJSON is the document served: openapiSource filled in.
var openapiJSON = fillKinds(openapiSource)

// fillKinds replaces the markers in doc with the registry's event kinds
// and their payload keys.
func fillKinds(doc []byte) []byte {
	names, err := json.Marshal(kinds.Events())
	if err != nil {
		panic(err)
	}
	desc, err := json.Marshal(payloadDescription())
	if err != nil {
		panic(err)
	}
	doc = bytes.ReplaceAll(doc, []byte(`"$EVENT_KINDS"`), bytes.Trim(names, "[]"))
	return bytes.ReplaceAll(doc, []byte(`"$EVENT_PAYLOAD"`), desc)
}

// payloadDescription says which payload keys each event kind takes:
// "the kind's keys only: card_unbound card_last4; card_bound card_last4
// (required); …".
func payloadDescription() string {
	var parts []string
	for _, k := range kinds.All() {
		if k.Event == nil || len(k.Event.Payload) == 0 {
			continue
		}
		var keys []string
		for _, p := range k.Event.Payload {
			if k.Event.Requires(p) {
				p += " (required)"
			}
			keys = append(keys, p)
		}
		parts = append(parts, fmt.Sprintf("%s %s", k.Name, strings.Join(keys, ", ")))
	}
	return "the kind's keys only: " + strings.Join(parts, "; ") + "; a url must be https on the official domains"
}

// GET /api/v1/openapi.json: the contract, for the lender's developers and
// their code generators. Public, like the document itself.
func (s *server) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, err := w.Write(openapiJSON)
	return err
}

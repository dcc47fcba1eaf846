package api

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
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

// queryParams is, for each route of the document ("GET /api/v1/audit"),
// the query parameters it takes: what checkParams holds a request to.
var queryParams = routeQueryParams(openapiJSON)

func routeQueryParams(doc []byte) map[string][]string {
	type param struct {
		Ref  string `json:"$ref"`
		Name string `json:"name"`
		In   string `json:"in"`
	}
	var d struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Parameters map[string]param `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		panic(err)
	}
	out := map[string][]string{}
	for path, ops := range d.Paths {
		var shared []param
		if raw, ok := ops["parameters"]; ok {
			if err := json.Unmarshal(raw, &shared); err != nil {
				panic(err)
			}
		}
		for method, raw := range ops {
			if method == "parameters" {
				continue
			}
			var op struct {
				Parameters []param `json:"parameters"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				continue // a summary or description, not an operation
			}
			names := []string{}
			for _, p := range append(shared, op.Parameters...) {
				if p.Ref != "" {
					p = d.Components.Parameters[p.Ref[strings.LastIndexByte(p.Ref, '/')+1:]]
				}
				if p.In == "query" {
					names = append(names, p.Name)
				}
			}
			out[strings.ToUpper(method)+" "+path] = names
		}
	}
	return out
}

// checkParams refuses a query parameter the request's route does not take
// (per the document): a misspelt or mis-cased flag (?dryrun=true,
// ?DRY_RUN=true) would otherwise be ignored, and the import it meant to be
// a dry run would write for real. Only /api/ routes are held to it: the
// receipt hooks take what providers send, and the console is not in the
// document.
func checkParams(r *http.Request) error {
	takes, ok := queryParams[r.Pattern]
	if !ok || !strings.Contains(r.Pattern, " /api/") {
		return nil
	}
	for k := range r.URL.Query() {
		if !slices.Contains(takes, k) {
			what := "takes no query parameters"
			if len(takes) > 0 {
				what = "takes " + strings.Join(takes, ", ")
			}
			return &apiError{http.StatusBadRequest, codeBadQuery, fmt.Sprintf("unknown query parameter %q: %s %s", k, r.Pattern, what)}
		}
	}
	return nil
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

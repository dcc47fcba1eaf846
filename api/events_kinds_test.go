package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"duebell/kinds"
)

// payloadSamples holds a well-formed value of every payload key the API
// checks. A registry kind naming a key missing here fails the test below:
// teach api.checkPayload the key, then add it here.
var payloadSamples = map[string]any{
	"card_last4": "0042",
	"seq":        2,
	"reason":     "insufficient_funds",
	"app_name":   "Example 金融",
	"url":        "https://finance.example.com/repay",
	"setting":    "face_verification",
}

// Every event kind of the registry is accepted with every scope it takes
// and every payload key it lists; without a required key it is refused, and
// a key it does not list is refused.
func TestPostEventAcceptsEveryRegistryKindAndItsPayloadKeys(t *testing.T) {
	t.Parallel()
	b := eventSetup(t)
	targets := map[string]string{
		kinds.ScopeCustomer: `"customer_ref":"c1"`,
		kinds.ScopePlan:     `"plan_ref":"p1"`,
		kinds.ScopeAll:      `"customer_ref":""`,
	}
	n := 0
	for _, k := range kinds.All() {
		if k.Event == nil {
			continue
		}
		payload := map[string]any{}
		for _, key := range k.Event.Payload {
			v, ok := payloadSamples[key]
			if !ok {
				t.Fatalf("%s: payload key %q has no check in the API (checkPayload) nor a sample here", k.Name, key)
			}
			payload[key] = v
		}
		body := func(ref, scope string, p map[string]any) string {
			raw, _ := json.Marshal(p)
			return fmt.Sprintf(`{"ref":%q,"kind":%q,"scope":%q,%s,"occurred_at":"2025-03-10T09:00:00+08:00","payload":%s}`,
				ref, k.Name, scope, targets[scope], raw)
		}
		for _, scope := range k.Event.Scopes {
			n++
			b.mustDo(t, http.StatusCreated, "POST", eventsPath, ingestToken, body(fmt.Sprint(k.Name, "-", scope), scope, payload))
		}
		scope := k.Event.Scopes[0]
		for _, key := range k.Event.Required {
			without := map[string]any{}
			for kk, v := range payload {
				if kk != key {
					without[kk] = v
				}
			}
			res := b.do(t, "POST", eventsPath, ingestToken, body(k.Name+"-without-"+key, scope, without))
			if _, msg := res.errorOf(); res.status != http.StatusUnprocessableEntity || !strings.Contains(msg, "payload."+key) {
				t.Errorf("%s without required %s = %d %s", k.Name, key, res.status, res.raw)
			}
		}
		res := b.do(t, "POST", eventsPath, ingestToken, body(k.Name+"-extra", scope, map[string]any{"not_a_key": 1}))
		if res.status != http.StatusUnprocessableEntity {
			t.Errorf("%s with an unknown key = %d %s", k.Name, res.status, res.raw)
		}
	}
	if got := b.count(t, "channel_events"); got != n {
		t.Fatalf("%d events stored, want %d", got, n)
	}
}

// The served OpenAPI document lists the registry's event kinds wherever it
// enumerates them, and says which payload keys each takes.
func TestOpenAPIEventKindsAreTheRegistrys(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rec := newRecorder(b, httptest.NewRequest("GET", "/api/v1/openapi.json", nil))
	if strings.Contains(rec.Body.String(), "$EVENT_") {
		t.Fatalf("served document keeps a marker")
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum        []string `json:"enum"`
					Description string   `json:"description"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	want := strings.Join(kinds.Events(), ",")
	for _, schema := range []string{"EventInput", "Event", "ImportEventLine"} {
		props := doc.Components.Schemas[schema].Properties
		if got := strings.Join(props["kind"].Enum, ","); got != want {
			t.Errorf("%s.kind enum = %s, want %s", schema, got, want)
		}
		if schema == "Event" {
			continue
		}
		for _, k := range kinds.All() {
			if k.Event != nil && len(k.Event.Payload) > 0 && !strings.Contains(props["payload"].Description, k.Name+" "+k.Event.Payload[0]) {
				t.Errorf("%s.payload description %q does not name %s's keys", schema, props["payload"].Description, k.Name)
			}
		}
	}
}

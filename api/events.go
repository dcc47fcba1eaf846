package api

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
	"golang.org/x/text/width"

	"duebell/internal/input"
	"duebell/kinds"
	"duebell/link"
	"duebell/repo"
)

// eventBody is the POST /api/v1/channel-events body.
type eventBody struct {
	Ref         string          `json:"ref"`
	Kind        string          `json:"kind"`
	Scope       string          `json:"scope"`
	CustomerRef string          `json:"customer_ref"`
	PlanRef     string          `json:"plan_ref"`
	OccurredAt  string          `json:"occurred_at"`
	Payload     json.RawMessage `json:"payload"`
}

// eventPayload is every payload key some kind accepts; the registry
// (kinds.Event.Payload) says which kind takes which. Each key is checked the
// same way whatever the kind (see checkPayload).
type eventPayload struct {
	CardLast4 *string `json:"card_last4"`
	Seq       *int    `json:"seq"`
	Reason    *string `json:"reason"`
	AppName   *string `json:"app_name"`
	URL       *string `json:"url"`
	Setting   *string `json:"setting"`
}

// missing reports whether the payload lacks key (a blank app name is none).
func (p eventPayload) missing(key string) bool {
	switch key {
	case "card_last4":
		return p.CardLast4 == nil
	case "seq":
		return p.Seq == nil
	case "reason":
		return p.Reason == nil
	case "app_name":
		return p.AppName == nil || strings.TrimSpace(*p.AppName) == ""
	case "url":
		return p.URL == nil
	case "setting":
		return p.Setting == nil
	}
	return true
}

// requiredHint says what a required payload key holds.
var requiredHint = map[string]string{
	"card_last4": "the new card's last 4 digits",
	"app_name":   "the app or site where borrowers repay now",
}

var classRE = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

// dottedName is a run of labels (letters and digits of any script) joined
// by dots, the ideographic, fullwidth, small and leader ones included: what
// a phone may linkify as a host in running text.
var dottedName = regexp.MustCompile(`[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(?:[.。．｡﹒․][\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)+`)

// plainDots makes the dots dottedName reads plain.
var plainDots = strings.NewReplacer("。", ".", "．", ".", "｡", ".", "﹒", ".", "․", ".")

// isJoiner says whether c is one of the invisible characters a name may
// hold (checkText lets them through: Persian needs ZWNJ, emoji ZWJ, mixed
// scripts the directional marks); a phone may read a host across them.
func isJoiner(c rune) bool {
	switch c {
	case '\u200c', '\u200d', '\u200e', '\u200f', '\u061c':
		return true
	}
	return false
}

// ignorable says whether a browser or a phone drops c when it reads a host
// (Unicode's default ignorable code points: the joiners, other formatting,
// variation selectors, U+034F…): "evil\ufe0f.com" is evil.com.
func ignorable(c rune) bool {
	return isJoiner(c) || unicode.In(c, unicode.Cf, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point)
}

// bareHost is a host bareHosts found, its dots and width made plain, and
// whether it is a URL to a phone without a scheme: a www. host, or one a
// path, query, fragment or port follows ("evil.com/pay", "evil.COM?x",
// "1.2.3.4/pay", "evil。com／pay").
type bareHost struct {
	host   string
	pathed bool
}

// asPhoneReads is s as a phone reads a host in it: ignorables dropped,
// full-width forms narrowed (ｅｖｉｌ．ｃｏｍ is evil.com).
func asPhoneReads(s string) string {
	return width.Narrow.String(strings.Map(func(c rune) rune {
		if ignorable(c) {
			return -1
		}
		return c
	}, s))
}

// bareHosts lists the hosts in s a phone would link, read as a phone reads
// them (asPhoneReads): dotted names that end in a top-level domain of the
// public suffix list's ICANN section (evil.com, 例子.中国, evil.xn--p1ai,
// Mr.Li) and dotted-quad addresses. "App 2.0", "1.5匹/变频空调", "node.js/入门"
// and "photo.jpg/相册" name none. A name IDNA cannot read counts as a host.
func bareHosts(s string) []bareHost {
	s = asPhoneReads(s)
	var out []bareHost
	for _, at := range dottedName.FindAllStringIndex(s, -1) {
		host := plainDots.Replace(s[at[0]:at[1]])
		labels := strings.Split(host, ".")
		ascii, err := idna.Lookup.ToASCII(host)
		_, icann := publicsuffix.PublicSuffix(ascii)
		if err == nil && !icann && (len(labels) != 4 || net.ParseIP(host) == nil) {
			continue
		}
		rest := s[at[1]:]
		next, size := utf8.DecodeRuneInString(rest)
		after, _ := utf8.DecodeRuneInString(rest[size:])
		pathed := strings.EqualFold(labels[0], "www") || strings.ContainsRune("/?#", next) || next == ':' && unicode.IsDigit(after)
		out = append(out, bareHost{host, pathed})
	}
	return out
}

// checkBareHosts refuses text (field) that names a host off allowed: any
// (app_name, which names where to repay), or, with pathedOnly, one a path,
// query, fragment or port makes a URL (a name, merchant or title: a bare
// dotted name there comes from the lender's records, Mr.Li or J.R.R.).
func checkBareHosts(field, text string, allowed []string, pathedOnly bool) error {
	// A scheme written in full width ("ｈｔｔｐｓ：／／evil．com") is a URL as
	// the ASCII one is.
	var foreign *link.ForeignURLError
	if errors.As(link.CheckURLs(asPhoneReads(text), allowed), &foreign) {
		return invalid(field, "must not contain a link off the official domains (links.allowed_domains): %q", foreign.URL)
	}
	for _, h := range bareHosts(text) {
		if (h.pathed || !pathedOnly) && link.CheckURLs("https://"+h.host+"/", allowed) != nil {
			return invalid(field, "must not name a host off the official domains (%q): a phone shows it as a link", h.host)
		}
	}
	return nil
}

// postEvent records a payment-channel event: 201 when new, 200 with the
// stored event when ref was already recorded with the same body, 409 when
// with another. The scan turns it into notices and side effects later.
func (s *server) postEvent(w http.ResponseWriter, r *http.Request) error {
	var b eventBody
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	in, err := s.eventFrom(b)
	if err != nil {
		return err
	}
	ev, created, err := s.cfg.Repo.RecordEvent(r.Context(), in)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, ev)
	return nil
}

func (s *server) getEvent(w http.ResponseWriter, r *http.Request) error {
	ref, err := pathRef(r, "ref")
	if err != nil {
		return err
	}
	ev, err := s.cfg.Repo.GetEvent(r.Context(), ref)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ev)
	return nil
}

func (s *server) eventFrom(b eventBody) (repo.EventInput, error) {
	now := s.cfg.Now()
	in := repo.EventInput{Ref: b.Ref, Kind: b.Kind, Scope: b.Scope, CustomerRef: b.CustomerRef, PlanRef: b.PlanRef, Now: now}
	if err := checkStrings(b); err != nil {
		return in, err
	}
	if err := checkRef(b.Ref); err != nil {
		return in, invalid("ref", "%s", err)
	}
	scopes, ok := repo.EventScopes(b.Kind)
	if !ok {
		return in, invalid("kind", "want one of %s", strings.Join(repo.EventKinds(), ", "))
	}
	if !slices.Contains(scopes, b.Scope) {
		return in, invalid("scope", "%s events take scope %s", b.Kind, strings.Join(scopes, " or "))
	}
	if err := checkEventTarget(b); err != nil {
		return in, err
	}
	occurred, err := parseInstant("occurred_at", b.OccurredAt, now)
	if err != nil {
		return in, err
	}
	if occurred == nil {
		return in, invalid("occurred_at", "is required (RFC 3339)")
	}
	in.OccurredAt = *occurred
	raw := bytes.TrimSpace(b.Payload)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		raw = []byte("{}")
	}
	p, err := s.checkPayload(b.Kind, raw)
	if err != nil {
		return in, err
	}
	in.Payload = repo.JSONObject(raw)
	if p.Seq != nil {
		in.InstallmentSeq = *p.Seq
	}
	return in, nil
}

// checkEventTarget checks that the refs fit the scope.
func checkEventTarget(b eventBody) error {
	switch b.Scope {
	case repo.ScopeCustomer:
		if err := checkRef(b.CustomerRef); err != nil {
			return invalid("customer_ref", "%s for scope customer", err)
		}
		if b.PlanRef != "" {
			return invalid("plan_ref", "must be empty for scope customer (use scope plan)")
		}
	case repo.ScopePlan:
		if err := checkRef(b.PlanRef); err != nil {
			return invalid("plan_ref", "%s for scope plan", err)
		}
		if b.CustomerRef != "" {
			if err := checkRef(b.CustomerRef); err != nil {
				return invalid("customer_ref", "%s", err)
			}
		}
	case repo.ScopeAll:
		if b.CustomerRef != "" || b.PlanRef != "" {
			return invalid("scope", "all speaks to every customer with an active plan; leave customer_ref and plan_ref empty")
		}
	}
	return nil
}

// checkPayload checks that raw is an object with only the kind's keys, each
// well-formed, and returns it decoded.
func (s *server) checkPayload(kind string, raw []byte) (eventPayload, error) {
	var p eventPayload
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil || keys == nil {
		return p, invalid("payload", "want a JSON object")
	}
	k, _ := kinds.Of(kind)
	var allowed, required []string
	if k.Event != nil {
		allowed, required = k.Event.Payload, k.Event.Required
	}
	for key := range keys {
		if !slices.Contains(allowed, key) {
			if len(allowed) == 0 {
				return p, invalid("payload."+key, "%s events take no payload keys", kind)
			}
			return p, invalid("payload."+key, "unknown key for %s (accepted: %s)", kind, strings.Join(allowed, ", "))
		}
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return p, invalid("payload."+typ.Field, "%s", wantType(typ.Field, typ.Type))
		}
		return p, invalid("payload", "want a JSON object")
	}
	for _, key := range required {
		if p.missing(key) {
			return p, invalid("payload."+key, "is required: %s", cmp.Or(requiredHint[key], "see the kind's payload"))
		}
	}
	if p.CardLast4 != nil && !last4RE.MatchString(*p.CardLast4) {
		return p, invalid("payload.card_last4", "want the card's last 4 digits")
	}
	if p.Seq != nil && (*p.Seq < 1 || *p.Seq > maxPeriods) {
		return p, invalid("payload.seq", "want the installment's seq, a positive integer")
	}
	if p.Reason != nil && !classRE.MatchString(*p.Reason) {
		return p, invalid("payload.reason", "want a failure class such as insufficient_funds")
	}
	if p.AppName != nil {
		if err := checkText("payload.app_name", *p.AppName, 64); err != nil {
			return p, err
		}
		if link.CheckURLs(*p.AppName, s.cfg.AllowedDomains) != nil {
			return p, invalid("payload.app_name", "must not contain a link off the official domains; put the entry in url")
		}
		if err := checkBareHosts("payload.app_name", *p.AppName, s.cfg.AllowedDomains, false); err != nil {
			return p, err
		}
	}
	if p.URL != nil {
		if err := s.checkEntryURL(*p.URL); err != nil {
			return p, err
		}
	}
	if p.Setting != nil && !classRE.MatchString(*p.Setting) {
		return p, invalid("payload.setting", "want a setting name such as face_verification")
	}
	return p, nil
}

// checkEntryURL accepts an absolute https URL on the official domains, the
// same rule every rendered message is held to.
func (s *server) checkEntryURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || strings.ContainsAny(raw, " \t\r\n") || len(raw) > 500 {
		return invalid("payload.url", "want an absolute https URL of at most 500 characters")
	}
	if err := input.BidiControl(raw); err != nil {
		return invalid("payload.url", "%s", err)
	}
	var foreign *link.ForeignURLError
	if errors.As(link.CheckURLs(raw, s.cfg.AllowedDomains), &foreign) {
		// Name the URL found, which may lie inside raw (in its query), not
		// raw's own host, which may be an official one.
		return invalid("payload.url", "%q is not on the official domains (links.allowed_domains)", foreign.URL)
	}
	return nil
}

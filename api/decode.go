package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"duebell/internal/input"
)

// DefaultBodyTimeout is Config.BodyTimeout's default: a JSON body is at
// most http.max_body_bytes (1 MiB by default), seconds on a slow link.
const DefaultBodyTimeout = 10 * time.Second

// readDeadline gives the request's body BodyTimeout to arrive in full: a
// read past it fails with os.ErrDeadlineExceeded, answered bodyTimeout.
func (s *server) readDeadline(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout))
}

// bodyTimeout is the answer to a body that did not arrive in full in time.
func (s *server) bodyTimeout() *apiError {
	return &apiError{http.StatusRequestTimeout, codeTimeout,
		fmt.Sprintf("the request body did not arrive within %s; send it again", s.cfg.BodyTimeout)}
}

// decode reads the body (gzip-compressed or not; see decodedBody) as
// exactly one JSON object into dst, refusing unknown fields and bodies over
// MaxBodyBytes, compressed or expanded, or not in within BodyTimeout; see
// decodeJSON.
func (s *server) decode(w http.ResponseWriter, r *http.Request, dst any) error {
	if err := jsonContentType(r.Header.Values("Content-Type")); err != nil {
		return err
	}
	if r.ContentLength > s.cfg.MaxBodyBytes { // at once, not after reading it
		return s.decodeError(&http.MaxBytesError{Limit: s.cfg.MaxBodyBytes})
	}
	s.readDeadline(w)
	body, err := decodedBody(r.Header, http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes),
		s.cfg.MaxBodyBytes, "JSON")
	var data []byte
	if err == nil {
		data, err = io.ReadAll(body)
	}
	var (
		tooLarge *http.MaxBytesError
		badEnc   *badEncodingError
		refused  *apiError
	)
	switch {
	case err == nil:
		return s.decodeJSON(data, dst)
	case errors.As(err, &refused):
		return refused
	case errors.As(err, &tooLarge):
		return s.decodeError(err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return s.bodyTimeout()
	case errors.As(err, &badEnc):
		return &apiError{http.StatusBadRequest, codeBadEncoding, badEnc.Error()}
	}
	// The client's connection broke mid-body (not the database's).
	return &apiError{http.StatusBadRequest, codeBadJSON, "the request body could not be read"}
}

// jsonContentType refuses a body declared (cts: its Content-Type headers)
// as anything but JSON in UTF-8 (application/json, or a type ending in
// +json; a charset, if given, utf-8) with 415: a form, XML, multipart or
// Latin-1 body is not what the client meant to send, nor are two types. A
// body that declares no type is read as JSON.
func jsonContentType(cts []string) error {
	if len(cts) == 0 || oneMediaType(cts, func(mt string) bool { return mt == "application/json" || strings.HasSuffix(mt, "+json") }) {
		return nil
	}
	return &apiError{http.StatusUnsupportedMediaType, codeUnsupportedMedia, "want one Content-Type: application/json (UTF-8)"}
}

// oneMediaType reports whether cts (a request's Content-Type headers) is
// one header of a media type ok takes, in UTF-8 if it names a charset.
func oneMediaType(cts []string, ok func(mediaType string) bool) bool {
	if len(cts) != 1 {
		return false
	}
	mt, params, err := mime.ParseMediaType(cts[0])
	cs, hasCharset := params["charset"]
	return err == nil && ok(mt) && (!hasCharset || strings.EqualFold(cs, "utf-8"))
}

// decodeJSON is the one place a JSON record is read: data must be valid
// UTF-8 holding exactly one JSON object with only dst's fields, and no
// string in it (keys and raw payloads included) may hold a NUL. Every body
// and every record of a bulk import goes through it, so the validators
// after it see only text PostgreSQL can store.
func (s *server) decodeJSON(data []byte, dst any) error {
	if !utf8.Valid(data) {
		return &apiError{http.StatusBadRequest, codeBadJSON, "request body is not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return s.decodeError(err)
	}
	// encoding/json reads null into any record as "nothing given", which
	// the validators would report as a missing field: it is not an object.
	if t := bytes.TrimSpace(data); bytes.HasPrefix(t, []byte("null")) {
		return &apiError{http.StatusBadRequest, codeBadJSON, "request body must be a JSON object"}
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return &apiError{http.StatusBadRequest, codeBadJSON, "request body must hold a single JSON object"}
	}
	if err := checkKeys(data, true); err != nil {
		return s.decodeError(err)
	}
	return checkStrings(dst)
}

// duplicateKeyError names a key an object of a record holds twice, which
// encoding/json would silently read as the last one ({"amount":1,
// "amount":100000}): ambiguous input, refused.
type duplicateKeyError struct{ path string }

func (e *duplicateKeyError) Error() string { return fmt.Sprintf("key %q appears twice", e.path) }

// keyCaseError names a key written otherwise than its field: encoding/json
// matches a field's name without regard to case (Unicode's: "ſ" is "s"),
// and a body is read as documented, in lower case ASCII.
type keyCaseError struct{ path string }

func (e *keyCaseError) Error() string {
	return fmt.Sprintf("unknown field %q: field names are lower case, as documented", e.path)
}

// foldKey is k as encoding/json compares field names: each rune the least
// of the runes that fold to it ("amount", "AMOUNT" and "ſ"-for-"s" spellings
// are one key).
func foldKey(k string) string {
	return strings.Map(func(r rune) rune {
		for {
			next := unicode.SimpleFold(r)
			if next <= r {
				return next
			}
			r = next
		}
	}, k)
}

// checkKeys walks data, well-formed JSON, for a key that appears twice in
// one object as encoding/json matches field names (foldKey): "amount" and
// "AMOUNT" are the same field. With lowerCase, a key with anything but
// lower case ASCII letters, digits and "_" is refused too (every field of
// duebell's own bodies is so written): the decoder would read it as the
// field it folds to.
func checkKeys(data []byte, lowerCase bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k, _ := kt.(string)
				p := strings.TrimPrefix(path+"."+k, ".")
				fold := foldKey(k)
				if seen[fold] {
					return &duplicateKeyError{p}
				}
				if lowerCase && strings.ContainsFunc(k, func(r rune) bool { return (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' }) {
					return &keyCaseError{p}
				}
				seen[fold] = true
				if err := walk(p); err != nil {
					return err
				}
			}
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		default:
			return nil
		}
		_, err = dec.Token() // the closing delimiter
		return err
	}
	return walk("")
}

// checkStrings checks every string of a decoded record (valid UTF-8, no
// NUL), naming the field. The record validators (customerFrom, planFrom,
// eventFrom) call it too, for records that did not come through decodeJSON.
func checkStrings(v any) error {
	if err := input.WalkDecoded(v); err != nil {
		var fe *input.FieldError
		if errors.As(err, &fe) {
			return invalid(fe.Field, "%s", fe.Err)
		}
		return invalid("body", "%s", err)
	}
	return nil
}

func (s *server) decodeError(err error) *apiError {
	var (
		tooLarge *http.MaxBytesError
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return &apiError{http.StatusRequestEntityTooLarge, codeTooLarge,
			fmt.Sprintf("request body is larger than %d bytes", s.cfg.MaxBodyBytes)}
	case errors.Is(err, io.EOF):
		return &apiError{http.StatusBadRequest, codeBadJSON, "request body is empty; want a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &apiError{http.StatusBadRequest, codeBadJSON, "request body is truncated JSON"}
	case errors.As(err, &syntax):
		return &apiError{http.StatusBadRequest, codeBadJSON, fmt.Sprintf("malformed JSON at byte %d", syntax.Offset)}
	case errors.As(err, &typ):
		if typ.Field == "" {
			return &apiError{http.StatusBadRequest, codeBadJSON, "request body must be a JSON object"}
		}
		field := embeddedBody.ReplaceAllString(typ.Field, "")
		return invalid(field, "%s", wantType(field, typ.Type))
	case errors.As(err, new(*duplicateKeyError)):
		return &apiError{http.StatusBadRequest, codeBadJSON, err.Error()}
	case errors.As(err, new(*keyCaseError)):
		return &apiError{http.StatusBadRequest, codeUnknownField, err.Error()}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return &apiError{http.StatusBadRequest, codeUnknownField, strings.TrimPrefix(err.Error(), "json: ")}
	}
	return &apiError{http.StatusBadRequest, codeBadJSON, "malformed JSON"}
}

// embeddedBody matches the Go name of a request body embedded in an import
// line's shape, which encoding/json puts in a field's path
// ("paymentBody.amount"): the client knows the field as "amount".
var embeddedBody = regexp.MustCompile(`\b[a-z]+Body\.`)

// wantType describes the JSON a Go field accepts, without echoing the value.
func wantType(field string, t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int32, reflect.Int64:
		last := field[strings.LastIndex(field, ".")+1:]
		if last == "amount" || last == "paid" || last == "total" {
			return "want an integer amount in minor units (fen), not a decimal or a string"
		}
		return "want an integer"
	case reflect.String:
		return "want a string"
	case reflect.Bool:
		return "want true or false"
	case reflect.Slice:
		return "want an array"
	case reflect.Struct, reflect.Map:
		return "want an object"
	}
	return "wrong type"
}

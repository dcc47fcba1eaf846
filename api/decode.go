package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
)

// decode reads the body as exactly one JSON object into dst, refusing
// unknown fields and bodies over MaxBodyBytes.
func (s *server) decode(w http.ResponseWriter, r *http.Request, dst any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return s.decodeError(err)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			if e := s.decodeError(err); e.Code == codeTooLarge {
				return e
			}
		}
		return &apiError{http.StatusBadRequest, codeBadJSON, "request body must hold a single JSON object"}
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
		return invalid(typ.Field, "%s", wantType(typ.Field, typ.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return &apiError{http.StatusBadRequest, codeUnknownField, strings.TrimPrefix(err.Error(), "json: ")}
	}
	return &apiError{http.StatusBadRequest, codeBadJSON, "malformed JSON"}
}

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

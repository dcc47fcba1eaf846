// Package input holds the checks every piece of outside input passes once,
// wherever it comes from (a JSON body, a query string, a form, a receipt):
// text is valid UTF-8 without NUL, money and dates lie in a sane range, and
// a time zone is a real IANA name. PostgreSQL refuses NUL and invalid UTF-8
// in text and years outside its range; checking first turns what would be a
// database error (a 500) into a clear 4xx that changes nothing.
package input

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"unicode/utf8"
)

// Text checks that s is valid UTF-8 and holds no NUL.
func Text(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("is not valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return errors.New("must not contain a NUL character")
	}
	return nil
}

// FieldError is a Text failure naming where it was found.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Values checks every key and value of a query string or form.
func Values(v url.Values) error {
	for k, vs := range v {
		if err := Text(k); err != nil {
			return &FieldError{Field: "query parameter name", Err: err}
		}
		for _, s := range vs {
			if err := Text(s); err != nil {
				return &FieldError{Field: k, Err: err}
			}
		}
	}
	return nil
}

// Walk checks every string reachable from v (struct fields, slices, maps
// and their keys, pointers, and the strings inside a json.RawMessage),
// naming the first bad one by its JSON path.
func Walk(v any) error {
	return walker{}.walk(reflect.ValueOf(v), "")
}

// WalkDecoded is Walk for a record encoding/json decoded from a request: no
// string may hold U+FFFD either, which the decoder writes in place of an
// invalid byte or an unpaired surrogate escape ("\ud800"). Such input is
// refused, not stored with the replacement.
func WalkDecoded(v any) error {
	return walker{decoded: true}.walk(reflect.ValueOf(v), "")
}

type walker struct{ decoded bool }

var errReplaced = errors.New("is not valid UTF-8 (an invalid byte or an unpaired surrogate escape)")

func (w walker) text(s string) error {
	if err := Text(s); err != nil {
		return err
	}
	if w.decoded && strings.ContainsRune(s, utf8.RuneError) {
		return errReplaced
	}
	return nil
}

var rawType = reflect.TypeFor[json.RawMessage]()

func (w walker) walk(v reflect.Value, path string) error {
	if !v.IsValid() {
		return nil
	}
	if v.Type() == rawType {
		return w.walkRaw(v.Bytes(), path)
	}
	switch v.Kind() {
	case reflect.String:
		if err := w.text(v.String()); err != nil {
			return &FieldError{Field: strings.TrimPrefix(path, "."), Err: err}
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return w.walk(v.Elem(), path)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" {
				name = f.Name
			}
			if name == "-" {
				continue
			}
			if err := w.walk(v.Field(i), path+"."+name); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if err := w.walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			k := fmt.Sprint(it.Key().Interface())
			if err := w.text(k); err != nil {
				return &FieldError{Field: strings.TrimPrefix(path, ".") + " key", Err: err}
			}
			if err := w.walk(it.Value(), path+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

// walkRaw checks a raw JSON value: valid UTF-8, and no NUL in any string or
// key once its escapes are read (PostgreSQL's jsonb refuses \u0000).
func (w walker) walkRaw(raw []byte, path string) error {
	if len(raw) == 0 {
		return nil
	}
	if !utf8.Valid(raw) {
		return &FieldError{Field: strings.TrimPrefix(path, "."), Err: errors.New("is not valid UTF-8")}
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil // not JSON: the field's own check says so
	}
	return w.walk(reflect.ValueOf(v), path)
}

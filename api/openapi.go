package api

import (
	_ "embed"
	"net/http"
)

// openapiJSON is the OpenAPI 3.1 contract of every /api/v1 route and the
// receipt hooks. TestOpenAPI sends each of its examples to the live
// handlers, checks every answer against it, and fails on a route it lacks.
//
//go:embed openapi.json
var openapiJSON []byte

// GET /api/v1/openapi.json: the contract, for the lender's developers and
// their code generators. Public, like the document itself.
func (s *server) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, err := w.Write(openapiJSON)
	return err
}

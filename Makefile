# duebell. `make demo` runs the daemon against the local PostgreSQL with the
# outbox provider; `make test` is the one test command (vet + race tests).

GO ?= go
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
export TEST_DATABASE_URL

.PHONY: build test demo bench fmt check

build:
	$(GO) build -o bin/duebell ./cmd/duebell

test:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo 'gofmt needed'; exit 1; }
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 10m ./...

demo: build
	./bin/duebell demo --config duebell.demo.toml

# Scan and dispatch throughput over 100k seeded installments (see README).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./bench/

fmt:
	gofmt -w $$(git ls-files '*.go')

# duebell. `make demo` runs the daemon on the embedded SQLite store with the
# outbox provider (nothing to install but Go); `make test` is the one test
# command (vet + race tests), and it needs PostgreSQL.

GO ?= go
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
export TEST_DATABASE_URL
# The server's maintenance database, to create `test` when it is missing.
TEST_ADMIN_URL ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable

.PHONY: build dist test testdb demo bench bench-river fmt check

# Build stamps: `duebell version` prints them.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X duebell/cli.Version=$(VERSION) -X duebell/cli.Commit=$(COMMIT) -X duebell/cli.Date=$(DATE)
DIST_PLATFORMS ?= linux/amd64 linux/arm64

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/duebell ./cmd/duebell

# Static release binaries (no cgo, so no libc to match) and their checksums.
dist:
	rm -rf dist && mkdir -p dist
	for p in $(DIST_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
			-o dist/duebell-$(VERSION)-$$os-$$arch ./cmd/duebell || exit 1; \
	done
	cd dist && sha256sum duebell-* > SHA256SUMS
	@cat dist/SHA256SUMS

# The test database: created when missing and psql can reach the server
# (tests get their own schema in it). Without psql, create it yourself.
# Every test creates and drops a schema; on a server without autovacuum the
# dead catalog rows pile up (pg_attribute reached 627 MB and 3 M dead rows,
# and test setup slowed), so the catalogs they touch are vacuumed first.
testdb:
	@if command -v psql >/dev/null 2>&1; then \
		psql "$(TEST_ADMIN_URL)" -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 || \
		psql "$(TEST_ADMIN_URL)" -c "CREATE DATABASE test"; \
		psql "$(TEST_DATABASE_URL)" -qc "VACUUM pg_catalog.pg_attribute, pg_catalog.pg_depend, pg_catalog.pg_class, \
			pg_catalog.pg_constraint, pg_catalog.pg_index, pg_catalog.pg_trigger, pg_catalog.pg_type" 2>/dev/null || true; \
	else echo "psql not found: make sure the database in TEST_DATABASE_URL exists (see README: Development)"; fi

test: testdb
	@$(GO) run ./internal/pgcheck "$(TEST_DATABASE_URL)" || { \
		echo 'make test needs PostgreSQL at TEST_DATABASE_URL (see README: Development); the embedded store needs nothing'; exit 1; }
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo 'gofmt needed'; exit 1; }
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 10m ./...
	@if command -v promtool >/dev/null; then \
		promtool check rules deploy/prometheus/alerts.yml && \
		(cd deploy/prometheus && promtool test rules alerts_test.yml); \
	else echo 'promtool not found: alert rules not checked (apt-get install prometheus)'; fi

demo: build
	./bin/duebell demo --config duebell.demo.toml

# Scan and dispatch throughput over 100k seeded installments (see README).
# The benchmarks' output, then a table of the figures the throughput issue
# sets beside their targets (bench/benchtable; it fails when they failed).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./bench/ 2>&1 | $(GO) run ./bench/benchtable

# The issue's yardstick on this machine: River (a generic PostgreSQL job
# queue) sending the same SMS and emails to the same kind of loopback sinks.
# Its own module (bench/river/go.mod), so duebell does not depend on River.
bench-river:
	cd bench/river && $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m .

fmt:
	gofmt -w $$(git ls-files '*.go')

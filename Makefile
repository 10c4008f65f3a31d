# idp: make help lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/idp/idp/cmd.version=$(VERSION)
BIN := bin/idp
# go's ./... skips testdata/; its generator is listed by hand.
TESTDATA_PKGS := ./testdata/gen ./testdata/gen/genpackets
DATA_DIR ?= ./data
# Tesseract parallelises a page with OpenMP; idp parallelises by page. See tesseract/omp.go.
export OMP_THREAD_LIMIT := 1
export CGO_ENABLED := 1

# Debian packages the build and the tests need, and the file that shows each is there.
APT_PACKAGES := libtesseract-dev libleptonica-dev tesseract-ocr-eng pkg-config
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

.PHONY: deps
deps: ## install the system packages idp needs (Tesseract, Leptonica, language data) when missing
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi
	@go mod download

.PHONY: test-deps
test-deps: deps ## also install what the tests and benchmarks drive: Chromium (UI test), mutool, tesseract, pdftotext, nginx and wrk (anchors), systemd-analyze and strace (the unit's tests), redis-server (many nodes)
	@missing=""; \
	for p in mupdf-tools tesseract-ocr poppler-utils chromium wrk nginx-light systemd strace redis-server; do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

.PHONY: build
build: deps ## build bin/idp
	go build -ldflags "$(LDFLAGS)" -o $(BIN) .

.PHONY: run
run: build ## install what is missing, build, and run `idp serve` on ./data
	./$(BIN) serve --data-dir $(DATA_DIR)

.PHONY: test
test: test-deps ## install what is missing and run every test (race detector on)
	go test -race -count=1 -timeout 45m ./... $(TESTDATA_PKGS)

.PHONY: lint
lint: deps ## go vet, gofmt and staticcheck
	go vet ./... $(TESTDATA_PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./... $(TESTDATA_PKGS)

.PHONY: bench
bench: test-deps ## benchmarks, each beside its anchor: pages/s, documents/s, workers against in-process (pages/s, peak RSS of the process tree), cached-data under wrk against nginx, status and restart at 100k documents
	go test -run '^$$' -bench . -benchtime 1x -count 1 -timeout 180m ./pipeline/ ./cmd/ ./httpapi/ ./stage/ ./mupdf/

.PHONY: soak
soak: test-deps ## long runs: idp serve killed with -9 50 times while 60 documents process
	IDP_SOAK_KILLS=50 IDP_SOAK_DOCS=60 go test -run 'TestServeSurvivesKill9' -count=1 -v -timeout 90m ./cmd/

# The held-out report of README "Accuracy": the second generator's seeds from 1000 (never
# tuned on) and the first generator's seeds 9700/9800, born-digital and scanned.
ACC_DIR ?= /tmp/idp-accuracy
.PHONY: accuracy
accuracy: build ## accuracy report on held-out generated packets (idp eval; about 20 minutes on 2 cores)
	rm -rf $(ACC_DIR) && mkdir -p $(ACC_DIR)
	go run ./testdata/gen/genpackets -layouts other -out $(ACC_DIR)/held-digital -n 40 -seed 1000 >/dev/null
	go run ./testdata/gen/genpackets -layouts other -out $(ACC_DIR)/held-scanned -n 10 -seed 1000 -scanned >/dev/null
	go run ./testdata/gen/genpackets -out $(ACC_DIR)/first-digital -n 40 -seed 9700 >/dev/null
	go run ./testdata/gen/genpackets -out $(ACC_DIR)/first-scanned -n 10 -seed 9800 -scanned >/dev/null
	@for d in held-digital held-scanned first-digital first-scanned; do \
		echo "== $$d"; ./$(BIN) eval --log-level warn --progress never $(ACC_DIR)/$$d || exit 1; \
	done

.PHONY: samples
samples: ## regenerate the committed sample packets in testdata/packets
	go run ./testdata/gen/genpackets -out testdata/packets -n 2 -seed 1
	go run ./testdata/gen/genpackets -out testdata/packets -n 1 -seed 7 -scanned -accounts 2 -scan-dpi 150
	go run ./testdata/gen/genpackets -out testdata/packets -n 1 -seed 5 -layouts other

.PHONY: clean
clean: ## remove bin/
	rm -rf bin

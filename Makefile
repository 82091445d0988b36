# Switchboard — build, test and run the operator.
#
#   make dev      the embedded default: a local control plane, the CRDs, the manager and
#                 the samples, with no cluster needed (Ctrl-C stops and cleans up)
#   make test     every test: unit, envtest integration (real kube-apiserver + etcd), chart
#   make verify   fails when generated files, chart CRDs or go.mod are stale
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

BIN := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)

## Tool versions: the one place they are pinned.
CONTROLLER_TOOLS_VERSION ?= v0.23.0
HELM_VERSION ?= v3.22.0
GOLANGCI_LINT_VERSION ?= v2.15.0
CRANE_VERSION ?= v0.22.1
# The control plane used by envtest and `make dev` (kube-apiserver, etcd, and for dev
# mode's garbage collector kube-controller-manager) follows the Kubernetes libraries in
# go.mod (k8s.io/api v0.X.Y -> Kubernetes v1.X.Y); etcd follows that Kubernetes release.
K8S_VERSION ?= $(shell go list -m -f '{{.Version}}' k8s.io/api | sed 's/^v0/v1/')

CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
HELM := $(BIN)/helm-$(HELM_VERSION)
GOLANGCI_LINT := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
ENVTEST_ASSETS := $(BIN)/k8s/$(K8S_VERSION)

GO_TEST_FLAGS ?= -count=1
TEST_TIMEOUT ?= 20m

##@ Build

.PHONY: build
build: ## Build bin/switchboard.
	go build -trimpath -o $(BIN)/switchboard .

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code for the API types.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC, and copy them into the Helm chart.
	$(CONTROLLER_GEN) crd rbac:roleName=switchboard-manager paths=./api/... paths=./controllers/... \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	hack/sync-chart.sh

.PHONY: ui-vendor
ui-vendor: ## Copy the web page's pinned npm packages (web/package-lock.json) into runtime/inbox/ui/static/vendor.
	hack/ui-vendor.sh vendor

.PHONY: ui-vendor-check
ui-vendor-check: ## Fail unless the vendored front-end files are npm's, at the locked versions.
	hack/ui-vendor.sh check

.PHONY: ui-deps
ui-deps: ## Install the browser tests' npm packages (axe-core) into bin/npm.
	hack/ui-vendor.sh install

.PHONY: ui-screenshots
ui-screenshots: ## Copy the browser tests' main screenshots (bin/ui-screenshots, made by make test) into docs/images.
	hack/ui-screenshots.sh

.PHONY: fmt
fmt: ## Format the Go code.
	gofmt -w $$(git ls-files '*.go')

##@ Test

.PHONY: test
test: envtest-assets $(HELM) ui-deps ## Run every test (unit, envtest integration, Helm chart, browser).
	@set +e; KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) HELM=$(HELM) go test $(GO_TEST_FLAGS) -v -timeout $(TEST_TIMEOUT) ./... >$(BIN)/test.log 2>&1; rc=$$?; \
	grep -E '^(ok|FAIL|--- FAIL|panic:|envtest:)|^\s+\S+_test\.go:[0-9]+:' $(BIN)/test.log; \
	echo "full output: $(BIN)/test.log"; \
	echo "$$(grep -c -- '--- PASS' $(BIN)/test.log) passed, $$(grep -c -- '--- FAIL' $(BIN)/test.log) failed"; \
	exit $$rc

.PHONY: fuzz-short
fuzz-short: ## Fuzz the webhook decoder for a short while (its seeds also run in make test).
	go test -run '^$$' -fuzz '^FuzzDecodeNotification$$' -fuzztime $${FUZZTIME:-30s} ./runtime/whatsapp/

.PHONY: verify
verify: generate manifests ## Regenerate everything, tidy go.mod, and fail on any difference.
	go mod tidy
	gofmt -l $$(git ls-files '*.go') | (! grep .) || { echo "gofmt would change the files above"; exit 1; }
	@if [ -n "$$(git status --porcelain)" ]; then \
		git status --porcelain; git --no-pager diff --stat; \
		echo "generated files are stale: run 'make generate manifests' and 'go mod tidy', then commit"; exit 1; \
	fi

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint.
	$(GOLANGCI_LINT) run ./...

.PHONY: helm-lint
helm-lint: $(HELM) ## Lint the chart and render it.
	$(HELM) lint charts/switchboard
	$(HELM) template switchboard charts/switchboard --namespace switchboard-system --kube-version $(K8S_VERSION) >/dev/null

.PHONY: update-golden
update-golden: envtest-assets ## Rewrite the golden files of the rendered sender and inbox objects.
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) go test ./controllers/ -run 'Golden' -update

# BENCH picks the benchmark packages; SCALE_N (default 100) the Numbers of bench/scale,
# e.g. `SCALE_N=1000 make bench BENCH=./bench/scale`.
BENCH ?= ./bench/...

.PHONY: bench
bench: envtest-assets ## Run the benchmarks (ratios against ceilings measured in the same run).
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) go test -run '^$$' -bench . -benchtime 1x -count 1 -timeout 60m $(BENCH)

##@ Run

.PHONY: dev
dev: build envtest-assets ## Run the embedded default: local control plane, CRDs, manager, samples.
	$(BIN)/switchboard dev --control-plane-bin $(ENVTEST_ASSETS) --samples config/samples --state-dir $(BIN)/dev

.PHONY: run
run: ## Run the manager against the cluster of the current KUBECONFIG.
	go run . manager --leader-elect=false

##@ Image and end-to-end tests (docs/e2e.md)

CRANE := $(BIN)/crane-$(CRANE_VERSION)
# The image's tag and org.opencontainers.image.version label; computed once, so that an
# edit during `make e2e` cannot make the tag it loads differ from the one it built.
IMAGE_VERSION ?= $(shell git describe --tags --always --dirty)
IMAGE_VERSION := $(IMAGE_VERSION)
IMAGE_DIR := $(BIN)/image
# The containerd that `make image-load` imports into.
CONTAINERD_ADDRESS ?= /run/containerd/containerd.sock
# The node's binaries (kubelet, kube-proxy, ...) for the e2e cluster, cached per version.
E2E_K8S := $(BIN)/e2e/k8s/$(K8S_VERSION)

.PHONY: image
image: $(CRANE) ## Build the image localhost/switchboard:$(IMAGE_VERSION) into bin/image/ (no Docker).
	hack/build-image.sh $(CRANE) $(IMAGE_DIR) $(IMAGE_VERSION)

.PHONY: image-check
image-check: $(CRANE) ## Build the image twice and fail unless both digests are equal.
	hack/build-image.sh $(CRANE) $(IMAGE_DIR)/check-1 $(IMAGE_VERSION)
	hack/build-image.sh $(CRANE) $(IMAGE_DIR)/check-2 $(IMAGE_VERSION)
	cmp $(IMAGE_DIR)/check-1/digest $(IMAGE_DIR)/check-2/digest && echo "reproducible: $$(cat $(IMAGE_DIR)/check-1/digest)"

.PHONY: image-load
image-load: image ## Import the image into the containerd at CONTAINERD_ADDRESS (namespace k8s.io).
	ctr --address $(CONTAINERD_ADDRESS) -n k8s.io images import $(IMAGE_DIR)/switchboard.tar

.PHONY: e2e-node
e2e-node: ## Build the e2e node's binaries (kubelet, kube-proxy, ...) into bin/e2e/k8s (cached).
	hack/build-control-plane.sh $(K8S_VERSION) $(E2E_K8S) kube-controller-manager kube-scheduler kubelet kube-proxy kubectl

.PHONY: e2e
e2e: image envtest-assets e2e-node $(HELM) ## Run the end-to-end test on a single-node cluster in a network namespace.
	hack/e2e/run.sh $(ENVTEST_ASSETS) $(E2E_K8S) $(HELM) $(CRANE) $(IMAGE_DIR)/switchboard.tar localhost/switchboard:$(IMAGE_VERSION)

##@ Tools

.PHONY: envtest-assets
envtest-assets: ## Build kube-apiserver, etcd and kube-controller-manager for envtest and dev mode (cached in bin/k8s).
	hack/build-control-plane.sh $(K8S_VERSION) $(ENVTEST_ASSETS)

$(CONTROLLER_GEN):
	hack/go-install.sh $@ sigs.k8s.io/controller-tools/cmd/controller-gen $(CONTROLLER_TOOLS_VERSION)

$(HELM):
	hack/go-install.sh $@ helm.sh/helm/v3/cmd/helm $(HELM_VERSION)

$(CRANE):
	hack/go-install.sh $@ github.com/google/go-containerregistry/cmd/crane $(CRANE_VERSION)

$(GOLANGCI_LINT):
	hack/go-install.sh $@ github.com/golangci/golangci-lint/v2/cmd/golangci-lint $(GOLANGCI_LINT_VERSION)

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-z-]+:.*##/ { printf "  %-16s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

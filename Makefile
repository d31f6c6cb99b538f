# DETRKit: the two set-up commands.
#   make demo   runs the main job on the embedded synthetic data set
#   make test   runs the test suite
# Both install missing Debian packages first (apt-get; needs root or sudo).

SWIFT ?= swift
DEB_PACKAGES := libopenblas-dev libjpeg-dev libpng-dev libxml2-dev libcairo2-dev libdnnl-dev pkg-config
DEMO_DIR ?= demo
DEMO_IMAGES ?= 120
SEED ?= 0

.PHONY: all deps build release demo test bench-io clean

all: build

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing missing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# The main job. Until the model lands it is the data pipeline: generate the synthetic
# VOCdevkit, split it and write the training lists, then check every box and decode every image.
demo: release
	rm -rf $(DEMO_DIR)
	.build/release/demo-data --output $(DEMO_DIR) --images $(DEMO_IMAGES) --seed $(SEED)
	cd $(DEMO_DIR) && ../.build/release/voc-annotation VOCdevkit --classes classes.txt --seed $(SEED) --check
	@echo "Demo data set and lists are in $(DEMO_DIR)/ (2007_train.txt, 2007_val.txt)."

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing

# detr-bench io: our XML parsing and image decoding against xml.etree and PIL (needs pillow).
bench-io: release
	.build/release/detr-bench io

clean:
	rm -rf .build $(DEMO_DIR)

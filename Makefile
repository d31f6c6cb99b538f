# DETRKit: the two set-up commands.
#   make demo   runs the main job on the embedded synthetic data set
#   make test   runs the test suite
# Both install missing Debian packages first (apt-get; needs root or sudo).

SWIFT ?= swift
# chromium-headless-shell: the test that opens get-map's report.html in a real browser.
# openmpi-bin, libopenmpi-dev: data-parallel detr-train under mpirun (loaded at run time) and its test.
DEB_PACKAGES := libopenblas-dev libjpeg-dev libpng-dev libdeflate-dev libxml2-dev libcairo2-dev libdnnl-dev pkg-config chromium-headless-shell \
	openmpi-bin libopenmpi-dev
DEMO_DIR ?= demo
DEMO_IMAGES ?= 1200
SEED ?= 0

.PHONY: all deps build release demo demo-segm test fuzz bench-io clean

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

# The main job: the whole loop on the generated shapes data set. Generate a small VOCdevkit,
# split it and write the lists (voc-annotation), train the demo's detector from scratch for a
# fixed number of epochs (detr-train; the time limit is only a guard), compute the VOC mAP of
# the best checkpoint on the held-out test split (get-map, with the per-class AP and the COCO
# mAP50:95 of the same detections, and the error analysis with its report.html) and draw its
# detections on the test images (predict). Ends with the lines `mAP50 = 0.xxx`,
# `mAP50:95 = 0.xxx`, `error analysis: <report.html>` and `pictures: <folder>`.
# The recipe is the winner of the convergence study (docs/convergence.md, `detr-bench converge`):
# Conditional DETR with Group DETR query groups on stride-16 ResNet-18 features, sigmoid focal
# loss, AdamW 2e-4 for every parameter, horizontal flips.
DEMO_TRAIN_FLAGS ?= --model conditional-detr --groups $(DEMO_GROUPS) --backbone resnet18 --backbone-stages 3 \
	--input-size 128 --preset flip --d-model 128 --heads 8 --enc-layers 2 --dec-layers 2 --ffn 512 --queries 16 --dropout 0 \
	--lr 2e-4 --backbone-lr-ratio 1 --schedule constant --batch 8 --epochs $(DEMO_EPOCHS) --eval-period 4 --save-period 4 \
	--workers 1 --time-limit $(DEMO_TIME_LIMIT)
DEMO_GROUPS ?= 3
DEMO_EPOCHS ?= 18
DEMO_TIME_LIMIT ?= 720
# Detections drawn on the pictures.
DEMO_CONFIDENCE ?= 0.5
BIN := $(CURDIR)/.build/release

demo: release
	rm -rf $(DEMO_DIR)
	$(BIN)/demo-data --output $(DEMO_DIR) --images $(DEMO_IMAGES) --min-side 128 --max-side 160 --seed $(SEED)
	cd $(DEMO_DIR) && $(BIN)/voc-annotation VOCdevkit --classes classes.txt --seed $(SEED)
	cd $(DEMO_DIR) && $(BIN)/detr-train 2007_train.txt --val 2007_val.txt --classes classes.txt \
		--seed $(SEED) $(DEMO_TRAIN_FLAGS)
	cd $(DEMO_DIR) && $(BIN)/get-map logs/best --devkit VOCdevkit --split test --mode 0 --out map_out | tee get-map.log
	cd $(DEMO_DIR) && $(BIN)/get-map logs/best --devkit VOCdevkit --split test --mode 4 --out map_out > get-map-coco.log
	cd $(DEMO_DIR) && $(BIN)/get-map logs/best --devkit VOCdevkit --split test --mode 4 --out map_out \
		--analysis analysis --report --images VOCdevkit/VOC2007/JPEGImages > get-map-analysis.log
	mkdir -p $(DEMO_DIR)/test_images
	for id in $$(cat $(DEMO_DIR)/VOCdevkit/VOC2007/ImageSets/Main/test.txt); do \
	  ln -sf ../VOCdevkit/VOC2007/JPEGImages/$$id.jpg $(DEMO_DIR)/test_images/$$id.jpg; done
	cd $(DEMO_DIR) && $(BIN)/predict test_images --weights logs/best --out img_out --confidence $(DEMO_CONFIDENCE) --count > predict.log
	@tail -n 3 $(DEMO_DIR)/predict.log
	@echo "per-class AP50 (VOC) and AP50:95 (COCO) on the test split:"
	@grep -E '% = .* AP' $(DEMO_DIR)/get-map.log | sed -E 's/^([0-9.]+)% = ([^ ]+) AP.*/  \2 AP50 \1%/'
	@sed -n '/^category/,$$p' $(DEMO_DIR)/get-map-coco.log | grep -v '^Get map' | sed 's/^/  /'
	@grep -E '^mAP@0\.50 = ' $(DEMO_DIR)/get-map.log | tail -n 1 | sed 's/^mAP@0\.50 = /mAP50 = /'
	@grep -E 'Average Precision.*IoU=0.50:0.95 \| area=   all' $(DEMO_DIR)/get-map-coco.log | sed -E 's/.*= ([0-9.-]+)$$/mAP50:95 = \1/'
	@echo "error analysis: $(DEMO_DIR)/analysis/report.html"
	@echo "pictures: $(DEMO_DIR)/img_out"

# The segmentation demo: the same shapes set with masks (demo-data --segmentation: VOC
# segmentation PNGs, a COCO panoptic set with the shapes as things and the background's tint as
# stuff, and the things as COCO instances), Mask2Former trained from scratch on the panoptic
# train split for a fixed number of epochs (DEMO_SEGM_TIME_LIMIT, 12 minutes, is only a guard),
# then the panoptic quality (get-map panoptic) and the COCO mask mAP (get-map coco --iou-type
# segm) of the last checkpoint on the panoptic val split, and its panoptic segments drawn on the
# val images (predict). Ends with the lines `PQ = 0.xxx`, `mask mAP = 0.xxx` and
# `pictures: <folder>`. The recipe was measured against others (docs/convergence.md).
DEMO_SEGM_DIR ?= demo-segm
DEMO_SEGM_TRAIN_FLAGS ?= --model mask2former --backbone resnet18 --d-model $(DEMO_SEGM_WIDTH) --heads 4 \
	--enc-layers 1 --dec-layers 3 --ffn 256 --queries 16 --mask-points 1024 --dropout 0 --preset flip \
	--lr 2e-4 --backbone-lr-ratio 1 --schedule constant --batch 4 --epochs $(DEMO_SEGM_EPOCHS) --eval-period 3 \
	--save-period $(DEMO_SEGM_SAVE_PERIOD) --workers 1 --time-limit $(DEMO_SEGM_TIME_LIMIT)
DEMO_SEGM_WIDTH ?= 64
DEMO_SEGM_EPOCHS ?= 9
DEMO_SEGM_SAVE_PERIOD ?= 3
DEMO_SEGM_TIME_LIMIT ?= 720
DEMO_SEGM_IMAGES := VOCdevkit/VOC2007/JPEGImages

demo-segm: release
	rm -rf $(DEMO_SEGM_DIR)
	$(BIN)/demo-data --output $(DEMO_SEGM_DIR) --images $(DEMO_IMAGES) --min-side 128 --max-side 160 --seed $(SEED) --segmentation
	cd $(DEMO_SEGM_DIR) && $(BIN)/detr-train --coco-panoptic panoptic/panoptic_train.json --images $(DEMO_SEGM_IMAGES) \
		--coco-panoptic-val panoptic/panoptic_val.json --val-images $(DEMO_SEGM_IMAGES) --seed $(SEED) $(DEMO_SEGM_TRAIN_FLAGS)
	cd $(DEMO_SEGM_DIR) && $(BIN)/get-map panoptic --gt-json panoptic/panoptic_val.json --gt-folder panoptic/segments \
		--pred-json pq_out/panoptic.json --json pq.json --weights logs/last --images $(DEMO_SEGM_IMAGES) > get-map-pq.log
	cd $(DEMO_SEGM_DIR) && $(BIN)/get-map coco --gt panoptic/instances_val.json --dt segm_out/detections.json --iou-type segm \
		--weights logs/last --images $(DEMO_SEGM_IMAGES) > get-map-segm.log 2> get-map-segm.err
	mkdir -p $(DEMO_SEGM_DIR)/val_images
	for id in $$(cat $(DEMO_SEGM_DIR)/VOCdevkit/VOC2007/ImageSets/Segmentation/val.txt); do \
	  ln -sf ../VOCdevkit/VOC2007/JPEGImages/$$id.jpg $(DEMO_SEGM_DIR)/val_images/$$id.jpg; done
	cd $(DEMO_SEGM_DIR) && $(BIN)/predict val_images --weights logs/last --out img_out --task panoptic --count > predict.log
	@tail -n 3 $(DEMO_SEGM_DIR)/predict.log
	@echo "per-class PQ (panoptic val split):"
	@sed -n '/^Per category/,$$p' $(DEMO_SEGM_DIR)/get-map-pq.log | grep -v '^Time elapsed' | sed 's/^/  /'
	@grep -E '^ *"All"' $(DEMO_SEGM_DIR)/pq.json | sed -E 's/.*"pq": ([0-9.e-]+),.*/\1/' | awk '{printf "PQ = %.3f\n", $$1}'
	@grep -E 'Average Precision.*IoU=0.50:0.95 \| area=   all' $(DEMO_SEGM_DIR)/get-map-segm.log | sed -E 's/.*= ([0-9.-]+)$$/mask mAP = \1/'
	@echo "pictures: $(DEMO_SEGM_DIR)/img_out"

# Fuzz every reader (VOC XML, COCO JSON, lines, classes, images, safetensors, state.json) with
# libFuzzer for FUZZ_SECONDS each; prints executions per target and findings (scripts/fuzz.sh).
FUZZ_SECONDS ?= 60
# make test fuzzes each reader briefly (a finding fails the test run).
TEST_FUZZ_SECONDS ?= 8
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) SWIFT=$(SWIFT) scripts/fuzz.sh

# Debug build for the suite; a short fuzz of every reader; then the learning test (a few minutes of training) in release.
# -enable-testing (two test files use @testable imports) in its own build folder, so that it does
# not rebuild the release tools of `make demo`. OMP_WAIT_POLICY=PASSIVE: idle oneDNN
# threads sleep instead of spinning against the loader thread (the tools set it themselves).
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing
	FUZZ_SECONDS=$(TEST_FUZZ_SECONDS) SWIFT=$(SWIFT) scripts/fuzz.sh
	$(SWIFT) build -c release --build-tests -Xswiftc -enable-testing --build-path .build/testing
	OMP_WAIT_POLICY=PASSIVE $(SWIFT) test -c release --skip-build --build-path .build/testing --disable-swift-testing --filter LearningTests

# detr-bench io: our XML parsing and image decoding against xml.etree and PIL (needs pillow).
bench-io: release
	.build/release/detr-bench io

clean:
	rm -rf .build $(DEMO_DIR) $(DEMO_SEGM_DIR)

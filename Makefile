# Builds and installs vmm, vmmd and vmctl.
#
#   make build                       release builds (vmm a static PIE, Package.swift)
#   make install [PREFIX=/usr/local] [DESTDIR=]
#   make uninstall [PREFIX=/usr/local] [DESTDIR=]
#
# BUILD_DIR names where the binaries are taken from; setting it to existing binaries
# (e.g. BUILD_DIR=.build/debug) skips the release build.

PREFIX ?= /usr/local
DESTDIR ?=
SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
BUILD_DIR ?= .build/release
UNITDIR ?= /etc/systemd/system
INSTALL ?= install

BINDIR = $(PREFIX)/bin
COMPLETIONDIR = $(PREFIX)/share/bash-completion/completions
MANDIR = $(PREFIX)/share/man/man1
PROGRAMS = vmm vmmd vmctl
# vmm's man page is docs/vmm.1, written from vmm's option declarations (a test keeps it
# current; vmm has no ArgumentParser). Those of vmmd and vmctl come from ArgumentParser's
# generate-manual plugin, which builds the package in debug mode first (~40 s once
# built); MAN=0 skips them. Not from inside `swift test`: SwiftPM holds the .build lock
# for the whole test run.
MAN ?= 1

.PHONY: all build install uninstall

all: build

# vmm's release build is a static PIE whatever the flags (Package.swift: its start-up and
# memory are the per-VM price); vmmd and vmctl get a static Swift stdlib, so the installed
# binaries do not depend on the toolchain's folder (a dynamic build's RUNPATH names
# /opt/swift/usr/lib/swift/linux).
build:
	$(SWIFT) build -c release --static-swift-stdlib --product vmm
	$(SWIFT) build -c release --static-swift-stdlib --product vmmd
	$(SWIFT) build -c release --static-swift-stdlib --product vmctl

# Builds first only when the binaries are the release build's.
ifeq ($(BUILD_DIR),.build/release)
install: build
endif
install:
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(COMPLETIONDIR)
	for program in $(PROGRAMS); do $(INSTALL) -m 0755 $(BUILD_DIR)/$$program $(DESTDIR)$(BINDIR)/$$program || exit 1; done
	sed -e 's|^ExecStart=[^ ]*/vmmd |ExecStart=$(BINDIR)/vmmd |' systemd/vmmd.service > $(DESTDIR)$(UNITDIR)/vmmd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/vmmd.service
	$(BUILD_DIR)/vmctl --generate-completion-script bash > $(DESTDIR)$(COMPLETIONDIR)/vmctl
	chmod 0644 $(DESTDIR)$(COMPLETIONDIR)/vmctl
	$(INSTALL) -d $(DESTDIR)$(MANDIR)
	$(INSTALL) -m 0644 docs/vmm.1 $(DESTDIR)$(MANDIR)/vmm.1
	@if [ "$(MAN)" = 1 ]; then \
	    out=.build/plugins/GenerateManual/outputs; rm -rf $$out; \
	    if timeout 600 $(SWIFT) package plugin generate-manual --configuration debug >/dev/null 2>&1 && \
	       ls $$out/*/*.1 >/dev/null 2>&1; then \
	        $(INSTALL) -m 0644 $$out/*/*.1 $(DESTDIR)$(MANDIR)/; \
	    else echo "install: the generate-manual plugin failed; no man pages for vmmd and vmctl" >&2; fi; \
	fi

uninstall:
	for program in $(PROGRAMS); do rm -f $(DESTDIR)$(BINDIR)/$$program; done
	rm -f $(DESTDIR)$(UNITDIR)/vmmd.service $(DESTDIR)$(COMPLETIONDIR)/vmctl
	for program in $(PROGRAMS); do rm -f $(DESTDIR)$(MANDIR)/$$program.1; done

# make install / make uninstall (included by the Makefile).
#   make install PREFIX=/usr/local DESTDIR=
# Installs the programs, their manual pages, the systemd units (with their
# paths set to BINDIR), a sysusers.d entry for the users switchboard and
# switchboard-worker, a tmpfiles.d entry for the state directory, and under
# DOCDIR the example configuration file, the s6 service directories and
# the inetd line. Nothing is started or enabled; /etc is not touched (copy
# DOCDIR/switchboard.conf to /etc/switchboard/ to use a configuration file).
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/switchboard
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
STATEDIR    ?= /var/lib/switchboard

# switchboard-salty is installed when it is built
INSTALL_BINS = $(sort $(PROGS) $(wildcard $(B)/switchboard-salty))
UNITS       := $(wildcard contrib/systemd/*.service contrib/systemd/*.socket)
S6_FILES    := $(shell find contrib/s6 -type f 2>/dev/null)
# The contrib files name /usr/local/bin and /var/lib/switchboard, as read in
# the README; installed, they name BINDIR and STATEDIR.
PATHS_SED    = sed -e 's|/usr/local/bin/|$(BINDIR)/|g' -e 's|/var/lib/switchboard|$(STATEDIR)|g'

install: $(INSTALL_BINS) $(MANS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 $(INSTALL_BINS) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(MANS) $(DESTDIR)$(MANDIR)/man1/
	for u in $(UNITS); do $(PATHS_SED) $$u >$(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; done
	$(PATHS_SED) contrib/sysusers.d/switchboard.conf >$(DESTDIR)$(SYSUSERSDIR)/switchboard.conf
	$(PATHS_SED) contrib/tmpfiles.d/switchboard.conf >$(DESTDIR)$(TMPFILESDIR)/switchboard.conf
	install -m 0644 contrib/switchboard.conf contrib/inetd.conf $(DESTDIR)$(DOCDIR)/
	for f in $(S6_FILES); do \
		d=$(DESTDIR)$(DOCDIR)/$${f#contrib/}; install -d $${d%/*} || exit 1; \
		$(PATHS_SED) $$f >$$d || exit 1; [ -x $$f ] && chmod 0755 $$d; chmod go+r $$d; \
	done
	chmod 0644 $(DESTDIR)$(UNITDIR)/switchboard* $(DESTDIR)$(SYSUSERSDIR)/switchboard.conf \
		$(DESTDIR)$(TMPFILESDIR)/switchboard.conf

uninstall:
	rm -f $(foreach b,$(INSTALL_BINS),$(DESTDIR)$(BINDIR)/$(notdir $(b))) \
		$(foreach m,$(MANS),$(DESTDIR)$(MANDIR)/man1/$(notdir $(m))) \
		$(foreach u,$(UNITS),$(DESTDIR)$(UNITDIR)/$(notdir $(u))) \
		$(DESTDIR)$(SYSUSERSDIR)/switchboard.conf $(DESTDIR)$(TMPFILESDIR)/switchboard.conf
	rm -rf $(DESTDIR)$(DOCDIR)

# SPDX-License-Identifier: MIT
# kick: one non-recursive Makefile. Outputs go under build/; the
# sanitizer build of the server goes under build/san/.

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
CLANG ?= clang
PYTHON ?= python3
PKGS := libuv inih jansson libcurl sqlite3 libcrypto libpq

VERSION := 0.1.0
# The shared library's soname: it changes only when the ABI does.
LIBKICK_SONAME := libkick.so.0
B := build
S := $(B)/san

WARN := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wno-unused-parameter
DEFS := -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L \
        -DKICK_VERSION='"$(VERSION)"'
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 $(WARN) $(DEFS) $(CFLAGS) -MMD -MP \
             $(shell pkg-config --cflags $(PKGS)) $(addprefix -I,$(KICKD_DIRS)) -Iinclude
LIBS = $(shell pkg-config --libs libuv inih jansson sqlite3 libcurl libcrypto \
         libpq)
CLIENT_LIBS = $(shell pkg-config --libs libcurl jansson)
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
             -fno-sanitize-recover=undefined
FUZZ_FLAGS = -O1 -g -fsanitize=fuzzer,address,undefined \
             $(addprefix -I,$(KICKD_DIRS))

# The server, laid out by concern (README.md, "Layout").
KICKD_DIRS := src/kickd src/kickd/http src/kickd/api src/kickd/run \
              src/kickd/runner src/kickd/jobs src/kickd/store \
              src/kickd/store/sqlite src/kickd/store/pg
KICKD_TOP := main srv cfg cfg_words cfg_scripts route log metrics \
             access_log timestamp auth
KICKD_HTTP := http_parse http_response conn conn_out conn_limit conn_log
KICKD_API := api api_list api_error follow ctl dashboard stats stats_ring \
             events event_batch
KICKD_RUN := run
KICKD_RUNNER := runner exec fastcgi fcgi_send fcgi_pool fcgi_record forward \
                forward_multi forward_request forward_head cgi_env \
                cgi_request cgi_response cgi_head proc pgroup
KICKD_JOBS := worker job_run ledger recover prune
KICKD_STORE := store_async store_common store_backend
KICKD_SQLITE := store_sqlite store_sqlite_schema store_sqlite_output \
                store_sqlite_list store_sqlite_prune
KICKD_PG := store_pg store_pg_schema store_pg_exec store_pg_conn \
            store_pg_notify store_pg_lease
# kd(DIR,NAMES): the objects of those sources.
kd = $(addprefix $(B)/src/kickd/$(1),$(addsuffix .o,$(2)))
KICKD_OBJ := $(call kd,,$(KICKD_TOP)) $(call kd,http/,$(KICKD_HTTP)) \
             $(call kd,api/,$(KICKD_API)) $(call kd,run/,$(KICKD_RUN)) \
             $(call kd,runner/,$(KICKD_RUNNER)) \
             $(call kd,jobs/,$(KICKD_JOBS)) \
             $(call kd,store/,$(KICKD_STORE)) \
             $(call kd,store/sqlite/,$(KICKD_SQLITE)) \
             $(call kd,store/pg/,$(KICKD_PG)) \
             $(B)/gen/ui_assets.o
KICKD_SAN_OBJ := $(KICKD_OBJ:$(B)/%=$(S)/%)

# The dashboard's files (ui/), built into kickd by tools/embed.py; the
# directory itself is a prerequisite so that a file added or removed
# counts.
UI_FILES := $(wildcard ui/*)

# The client library and the kick command.
LIBKICK_OBJ := $(addprefix $(B)/src/libkick/, ctl.o error.o request.o \
               client.o job.o)
KICK_OBJ := $(addprefix $(B)/src/kick/, main.o cmd_ctl.o cmd_trigger.o \
            cmd_job.o cmd_ls.o cmd_status.o cli_time.o cmd_batch.o)

# Unit tests: one binary per module, with cmocka.
UNIT := http_parse cfg cgi_response fcgi_record store store_async store_listen \
        kick_request pgroup ledger access_log timestamp api_list forward_head \
        auth stats_ring event_batch
UNIT_BIN := $(addprefix $(B)/tests/unit/test_, $(UNIT))
UNIT_DEPS_http_parse := $(B)/src/kickd/http/http_parse.o
UNIT_DEPS_cfg := $(B)/src/kickd/cfg.o $(B)/src/kickd/cfg_words.o $(B)/src/kickd/cfg_scripts.o
UNIT_DEPS_cgi_response := $(B)/src/kickd/runner/cgi_response.o \
                          $(B)/src/kickd/http/http_parse.o
UNIT_DEPS_fcgi_record := $(B)/src/kickd/runner/fcgi_record.o
UNIT_DEPS_forward_head := $(B)/src/kickd/runner/forward_head.o \
                          $(B)/src/kickd/runner/cgi_response.o \
                          $(B)/src/kickd/http/http_parse.o
UNIT_DEPS_store := $(B)/src/kickd/store/sqlite/store_sqlite.o \
                   $(B)/src/kickd/store/sqlite/store_sqlite_schema.o \
                   $(B)/src/kickd/store/sqlite/store_sqlite_output.o \
                   $(B)/src/kickd/store/sqlite/store_sqlite_list.o \
                   $(B)/src/kickd/store/sqlite/store_sqlite_prune.o \
                   $(B)/src/kickd/store/pg/store_pg.o \
                   $(B)/src/kickd/store/pg/store_pg_schema.o \
                   $(B)/src/kickd/store/pg/store_pg_exec.o \
                   $(B)/src/kickd/store/pg/store_pg_conn.o \
                   $(B)/src/kickd/store/pg/store_pg_notify.o \
                   $(B)/src/kickd/store/pg/store_pg_lease.o \
                   $(B)/src/kickd/store/store_common.o \
                   $(B)/src/kickd/store/store_backend.o
UNIT_DEPS_store_async := $(B)/src/kickd/store/store_async.o $(B)/src/kickd/log.o \
                         $(UNIT_DEPS_store)
UNIT_DEPS_kick_request := $(B)/src/libkick/request.o
UNIT_DEPS_pgroup := $(B)/src/kickd/runner/pgroup.o
UNIT_DEPS_access_log := $(B)/src/kickd/access_log.o
UNIT_DEPS_store_listen := $(UNIT_DEPS_store_async)
UNIT_DEPS_ledger := $(B)/src/kickd/jobs/ledger.o $(UNIT_DEPS_store_async)
UNIT_DEPS_timestamp := $(B)/src/kickd/timestamp.o
UNIT_DEPS_auth := $(B)/src/kickd/auth.o $(B)/src/kickd/http/http_parse.o
UNIT_DEPS_stats_ring := $(B)/src/kickd/api/stats_ring.o
UNIT_DEPS_event_batch := $(B)/src/kickd/api/event_batch.o
UNIT_DEPS_api_list := $(B)/src/kickd/api/api_list.o $(B)/src/kickd/timestamp.o \
                      $(B)/src/kickd/route.o \
                      $(UNIT_DEPS_store) $(UNIT_DEPS_cfg)

# Fuzz targets: one per parser of outside input.
FUZZ := http_parse cgi_response timestamp fcgi_record forward_head auth
FUZZ_BIN := $(addprefix $(B)/fuzz/fuzz_, $(FUZZ))
FUZZ_TIME ?= 60

# Benchmark helpers.
BENCH_BIN := $(addprefix $(B)/bench/, spawn_floor tiny_cgi abort_probe \
             beanstalk_put trigger_flood start_probe sink trigger_raw \
             trigger_libkick ok_sink)

DEPS_STAMP := $(B)/.deps

# `make V=1` shows the commands.
Q := $(if $(V),,@)

.PHONY: all deps check unit unit-pg e2e san fuzz fuzz-replay run run-pg bench \
        install clean format chaos
all: $(B)/kickd $(B)/kick $(B)/$(LIBKICK_SONAME) $(B)/libkick.pc

# Installs the Debian packages that are missing (non-interactive); does
# nothing when all are present.
deps: $(DEPS_STAMP)
$(DEPS_STAMP): .ci/deps
	@bash .ci/deps
	@mkdir -p $(B) && touch $@

$(B)/kickd: $(KICKD_OBJ)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

$(B)/libkick.a: $(LIBKICK_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

# The shared library: position-independent objects, with its soname.
$(LIBKICK_OBJ): ALL_CFLAGS += -fPIC -fvisibility=hidden
$(B)/$(LIBKICK_SONAME): $(LIBKICK_OBJ)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -shared -Wl,-soname,$(LIBKICK_SONAME) -o $@ $^ \
	    $(CLIENT_LIBS)

$(B)/libkick.pc: libkick.pc.in Makefile
	@mkdir -p $(@D)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    $< > $@

$(B)/kick: $(KICK_OBJ) $(B)/libkick.a
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(CLIENT_LIBS)

$(S)/kickd: $(KICKD_SAN_OBJ)
	@echo "  LD      $@"
	$(Q)$(CLANG) $(SAN_FLAGS) -o $@ $^ $(LIBS)
	$(Q)ln -sf ../kick $(S)/kick # the kick its scripts find beside it

$(B)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(S)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  CC san  $@"
	$(Q)$(CLANG) $(ALL_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

$(B)/gen/ui_assets.c: tools/embed.py $(UI_FILES) ui | $(DEPS_STAMP)
	@echo "  EMBED   $@"
	$(Q)$(PYTHON) tools/embed.py $@ ui

$(B)/gen/ui_assets.o: $(B)/gen/ui_assets.c
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(S)/gen/ui_assets.o: $(B)/gen/ui_assets.c
	@mkdir -p $(@D)
	@echo "  CC san  $@"
	$(Q)$(CLANG) $(ALL_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

# Objects built on the way to a test binary are kept (make would delete
# them as intermediate files, and say so after the test runner's last
# line).
.SECONDARY:

.SECONDEXPANSION:
$(B)/tests/unit/test_%: $(B)/tests/unit/test_%.o $$(UNIT_DEPS_$$*)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs cmocka)

$(B)/fuzz/fuzz_%: fuzz/$$*/fuzz_$$*.c $$(FUZZ_SRC_$$*) \
                  | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  FUZZ    $@"
	$(Q)$(CLANG) $(FUZZ_FLAGS) $(DEFS) -o $@ $^ $(FUZZ_LIBS_$*)
FUZZ_SRC_http_parse := src/kickd/http/http_parse.c
FUZZ_SRC_cgi_response := src/kickd/runner/cgi_response.c \
                         src/kickd/http/http_parse.c
FUZZ_SRC_timestamp := src/kickd/timestamp.c
FUZZ_SRC_fcgi_record := src/kickd/runner/fcgi_record.c
FUZZ_SRC_forward_head := src/kickd/runner/forward_head.c \
                         src/kickd/runner/cgi_response.c \
                         src/kickd/http/http_parse.c
FUZZ_LIBS_forward_head := $(shell pkg-config --libs libcurl)
FUZZ_SRC_auth := src/kickd/auth.c src/kickd/http/http_parse.c
FUZZ_LIBS_auth := $(shell pkg-config --libs libcrypto)

$(B)/bench/%: bench/%.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $<

# The client part of the bench runs build/kick (--batch) as well.
$(B)/bench/trigger_libkick: bench/trigger_libkick.c $(B)/libkick.a \
                            | $(DEPS_STAMP) $(B)/kick
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(B)/libkick.a $(CLIENT_LIBS)

# The builds first, as many at once as the machine has CPUs (.ci/run calls
# a plain `make check`), then every test.
NPROC := $(shell nproc 2>/dev/null || echo 1)
check:
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) all $(S)/kickd $(UNIT_BIN) \
	    $(FUZZ_BIN)
	$(PYTHON) tests/run.py --build $(B) --san $(S)

unit: $(UNIT_BIN)
	$(PYTHON) tests/run.py --build $(B) --only unit

# The store suite on PostgreSQL too, against a throwaway cluster
# (tests/unit/pg_cluster.sh). check and unit run it as well (tests/run.py,
# unit/test_store_pg), never skipped; this target shows cmocka's output.
PG_PORT ?= 55432
unit-pg: $(B)/tests/unit/test_store
	$(Q)d=$$(mktemp -d /tmp/kick-pg.XXXXXX) && rmdir "$$d" && \
	uri=$$(tests/unit/pg_cluster.sh start "$$d" $(PG_PORT)) && \
	KICK_TEST_DB="$$uri" timeout 300 $(B)/tests/unit/test_store; \
	rc=$$?; tests/unit/pg_cluster.sh stop "$$d"; exit $$rc

e2e: $(B)/kickd $(B)/kick
	$(PYTHON) tests/run.py --build $(B) --only e2e

san: $(S)/kickd $(B)/kick
	$(PYTHON) tests/run.py --build $(B) --san $(S) --only san

fuzz-replay: $(FUZZ_BIN)
	$(PYTHON) tests/run.py --build $(B) --only fuzz

# Chaos rounds (tests/chaos): CHAOS_ROUNDS of load with kickd killed by
# SIGKILL at a random moment and restarted, then as many with SIGTERM.
CHAOS_ROUNDS ?= 30
chaos: $(B)/kickd $(B)/kick
	$(PYTHON) tests/chaos/chaos.py --rounds $(CHAOS_ROUNDS) --signal KILL
	$(PYTHON) tests/chaos/chaos.py --rounds $(CHAOS_ROUNDS) --signal TERM

# Runs every fuzz target for FUZZ_TIME seconds, growing its corpus.
fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ); do \
	    echo "fuzz $$f for $(FUZZ_TIME)s"; \
	    $(B)/fuzz/fuzz_$$f -max_total_time=$(FUZZ_TIME) \
	        -dict=fuzz/$$f/$$f.dict fuzz/$$f/corpus || exit 1; \
	done

run: $(B)/kickd $(B)/kick
	@echo "kickd on http://127.0.0.1:8080 with examples/ (Ctrl-C stops it)"
	@echo "try:  curl -i 'http://127.0.0.1:8080/hello?name=you'" \
	      "&& curl -i -H 'Prefer: respond-async' -d name=you" \
	      "http://127.0.0.1:8080/hello.php" \
	      "&& sleep 1 && curl -s http://127.0.0.1:8080/jobs"
	@echo "the dashboard: http://127.0.0.1:8080/ in a browser"
	PATH="$(CURDIR)/$(B):$$PATH" $(B)/kickd --listen 127.0.0.1:8080 \
	    --scripts examples --mode auto --db $(B)/kick.db

# Two kickd nodes (8080, 8081) on a throwaway PostgreSQL cluster
# (tools/run_pg.sh; PG_PORT as for unit-pg); Ctrl-C stops all of it.
run-pg: $(B)/kickd $(B)/kick
	@sh tools/run_pg.sh $(B) $(PG_PORT)

bench: $(B)/kickd $(BENCH_BIN)
	@BENCH_PKGS=1 bash .ci/deps
	$(PYTHON) bench/run.py --build $(B)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 755 $(B)/kickd $(B)/kick $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(B)/libkick.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(B)/$(LIBKICK_SONAME) $(DESTDIR)$(PREFIX)/lib/
	ln -sf $(LIBKICK_SONAME) $(DESTDIR)$(PREFIX)/lib/libkick.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    libkick.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/libkick.pc
	install -m 644 include/kick.h $(DESTDIR)$(PREFIX)/include/
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man3 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 644 docs/kick.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 docs/libkick.3 $(DESTDIR)$(PREFIX)/share/man/man3/
	install -m 644 docs/kickd.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system \
	    $(DESTDIR)$(PREFIX)/share/doc/kick
	sed -e 's|@PREFIX@|$(PREFIX)|g' dist/kickd.service.in \
	    > $(DESTDIR)$(PREFIX)/lib/systemd/system/kickd.service
	chmod 644 $(DESTDIR)$(PREFIX)/lib/systemd/system/kickd.service
	install -m 644 dist/kickd.conf $(DESTDIR)$(PREFIX)/share/doc/kick/

format:
	clang-format -i $$(find src -name '*.[ch]') tests/unit/*.c fuzz/*/*.c bench/*.c

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)

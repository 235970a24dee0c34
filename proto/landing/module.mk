# The landing page at / (a worker half with only an http op), and its option.
landing_WORKER := proto/landing/page.c
landing_OPTIONS := proto/landing/options.c
# The page is proto/landing/index.html, turned into a C string at build time.
$(B)/gen/landing_page.h: proto/landing/index.html proto/landing/embed.sh
	@mkdir -p $(dir $@)
	@sh proto/landing/embed.sh $< >$@.tmp && mv $@.tmp $@
$(B)/obj/proto/landing/page.o: $(B)/gen/landing_page.h
$(B)/obj/proto/landing/page.o: override CFLAGS += -I$(B)/gen

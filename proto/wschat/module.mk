# WSChat: worker half (JSON commands to envelopes), router half (names, fan-out).
wschat_WORKER := proto/wschat/session.c
wschat_ROUTER := proto/wschat/service.c

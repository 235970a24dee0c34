# /echo: a worker half only (no router half, no bus).
echo_WORKER := proto/echo/session.c

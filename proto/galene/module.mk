# Galène: the router-side pieces so far (group files, passwords, JWTs), built
# into the unit tests and fuzz targets; the halves come with the seam.
galene_LIB  := proto/galene/jsonval.c proto/galene/timefmt.c proto/galene/password.c \
               proto/galene/jwt.c proto/galene/groupfile.c proto/galene/groups.c
galene_LIBS := -lcrypto -lcrypt

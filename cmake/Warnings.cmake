# The one checked-in warning list for uhoma (C11/gnu11, gcc and clang).
# Every build CI runs adds -Werror (UHOMA_WERROR=ON, the default).
set(UHOMA_WARNINGS
  -Wall
  -Wextra
  -Wshadow
  -Wstrict-prototypes
  -Wmissing-prototypes
  -Wvla
  -Wconversion
  -Wsign-conversion
  -Wundef
  -Wformat=2
  -Wpointer-arith
  -Wcast-qual
  -Wwrite-strings
  -Wnull-dereference
  -Wdouble-promotion
)
if(UHOMA_WERROR)
  list(APPEND UHOMA_WARNINGS -Werror)
endif()

/* homa_header.c compiled as C++: the header must serve both. */
#include "homa_header.c"

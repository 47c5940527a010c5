/*
 * headers_c99.c - the public headers in C99, strict and GNU, with
 * -pedantic -Werror (CMakeLists.txt builds this file both ways): a
 * program of that dialect must be able to include them (helper-36:
 * homa.h's layout checks used _Static_assert, which C99 lacks).
 */
#include <uhoma/homa.h>
#include <uhoma/memnet.h>
#include <uhoma/uhoma.h>

int main(void)
{
	struct homa_sendmsg_args a = { 0 };

	return (int)a.flags;
}

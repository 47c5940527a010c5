/*
 * plot.c - the Homa papers' figure as SVG: slowdown (log scale) against
 * message length (log scale), P50 dashed and P99 solid, one colour per
 * protocol.
 */
#include <math.h>
#include <stdio.h>

#include "bench.h"

#define W 760
#define H 460
#define L 70      /* margins */
#define R 20
#define T 40
#define B 60

static const char *const colours[] = { "#d62728", "#1f77b4", "#2ca02c",
				       "#9467bd" };

static double xmap(double len, double lo, double hi)
{
	return L + (log10(len) - lo) / (hi - lo) * (W - L - R);
}

static double ymap(double v, double lo, double hi)
{
	return H - B - (log10(v) - lo) / (hi - lo) * (H - T - B);
}

/* @text as SVG character data: &, < and > escaped. */
static void put_text(FILE *f, const char *text)
{
	for (; *text; text++) {
		if (*text == '&')
			fputs("&amp;", f);
		else if (*text == '<')
			fputs("&lt;", f);
		else if (*text == '>')
			fputs("&gt;", f);
		else
			fputc(*text, f);
	}
}

int plot_svg(const char *path, const char *title,
	     const struct plot_series *s, size_t ns)
{
	double xlo = 1e9, xhi = 0, ylo = 1, yhi = 10;
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		return -1;
	}
	for (size_t k = 0; k < ns; k++)
		for (size_t i = 0; i < s[k].n; i++) {
			const struct bucket *b = &s[k].b[i];

			if (b->max_len < xlo)
				xlo = b->max_len;
			if (b->max_len > xhi)
				xhi = b->max_len;
			if (b->s99 > yhi)
				yhi = b->s99;
			if (b->s50 > 0 && b->s50 < ylo)
				ylo = b->s50;
		}
	if (xhi <= xlo)
		xhi = xlo * 10;
	xlo = floor(log10(xlo));
	xhi = ceil(log10(xhi));
	ylo = floor(log10(ylo));
	yhi = ceil(log10(yhi));
	if (yhi <= ylo)
		yhi = ylo + 1;
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		   "height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n"
		   "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
		   "<text x=\"%d\" y=\"22\" font-size=\"15\">",
		W, H, L);
	put_text(f, title);
	fprintf(f, "</text>\n");
	for (double e = xlo; e <= xhi; e++) {
		double x = xmap(pow(10, e), xlo, xhi);

		fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
			   "stroke=\"#ddd\"/>\n<text x=\"%.1f\" y=\"%d\" "
			   "text-anchor=\"middle\">1e%.0f</text>\n",
			x, T, x, H - B, x, H - B + 18, e);
	}
	for (double e = ylo; e <= yhi; e++) {
		double y = ymap(pow(10, e), ylo, yhi);

		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
			   "stroke=\"#ddd\"/>\n<text x=\"%d\" y=\"%.1f\" "
			   "text-anchor=\"end\">%g</text>\n",
			L, y, W - R, y, L - 6, y + 4, pow(10, e));
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">message "
		   "length (bytes)</text>\n<text x=\"16\" y=\"%d\" "
		   "transform=\"rotate(-90 16 %d)\" text-anchor=\"middle\">"
		   "slowdown</text>\n",
		(L + W - R) / 2, H - 18, (T + H - B) / 2, (T + H - B) / 2);
	for (size_t k = 0; k < ns; k++) {
		const char *c = colours[k % 4];

		for (int q = 0; q < 2; q++) {
			fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" "
				   "stroke-width=\"2\"%s points=\"", c,
				q ? "" : " stroke-dasharray=\"6,4\"");
			for (size_t i = 0; i < s[k].n; i++) {
				double v = q ? s[k].b[i].s99 : s[k].b[i].s50;

				fprintf(f, "%.1f,%.1f ",
					xmap(s[k].b[i].max_len, xlo, xhi),
					ymap(v > 0 ? v : 1, ylo, yhi));
			}
			fprintf(f, "\"/>\n");
		}
		fprintf(f, "<line x1=\"%d\" y1=\"%zu\" x2=\"%d\" y2=\"%zu\" "
			   "stroke=\"%s\" stroke-width=\"2\"/><text x=\"%d\" "
			   "y=\"%zu\">",
			L + 10, T + 10 + 18 * k, L + 40, T + 10 + 18 * k, c,
			L + 46, T + 14 + 18 * k);
		put_text(f, s[k].label);
		fprintf(f, " P99 (dashed: P50)</text>\n");
	}
	fprintf(f, "</svg>\n");
	fclose(f);
	return 0;
}

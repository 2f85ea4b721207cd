/*
 * Arithmetic modulo the STARK prime p and the curve order n, on four 64-bit limbs (least
 * significant first), in Montgomery form (a·2^256 mod m). Every value is kept fully reduced,
 * so equality is limb equality.
 *
 * A product is computed in full (8 limbs; squaring with half the cross products) and then
 * Montgomery-reduced: modulo p in a single pass thanks to p = 1 + (17 + 2^59)·2^192 (see
 * redc_p), modulo n word by word.
 */
#ifndef PERPNODE_FIELD_H
#define PERPNODE_FIELD_H

#include <stdint.h>
#include <string.h>
#include "stark_constants.h"

typedef uint64_t u64;
typedef unsigned __int128 u128;

typedef struct { u64 v[4]; } fe; /* element of F_p, Montgomery form */
typedef struct { u64 v[4]; } fn; /* element of Z/n, Montgomery form */

#define FORCE_INLINE static inline __attribute__((always_inline))

/* ---- generic 256-bit helpers on canonical integers ------------------------------------ */

FORCE_INLINE int u256_is_zero(const u64 a[4]) { return (a[0] | a[1] | a[2] | a[3]) == 0; }

FORCE_INLINE int u256_eq(const u64 a[4], const u64 b[4]) {
  return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3])) == 0;
}

/* a < b */
FORCE_INLINE int u256_lt(const u64 a[4], const u64 b[4]) {
  for (int i = 3; i >= 0; i--) {
    if (a[i] != b[i]) return a[i] < b[i];
  }
  return 0;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(PERPNODE_PORTABLE_C)
#include <x86intrin.h>
#define HAVE_ADC_INTRIN 1
#endif

/* r = a - b, returns the borrow (0 or 1) */
FORCE_INLINE u64 u256_sub(u64 r[4], const u64 a[4], const u64 b[4]) {
#ifdef HAVE_ADC_INTRIN
  unsigned char c = 0;
  unsigned long long o;
  for (int i = 0; i < 4; i++) {
    c = _subborrow_u64(c, a[i], b[i], &o);
    r[i] = o;
  }
  return c;
#else
  u64 borrow = 0;
  for (int i = 0; i < 4; i++) {
    u64 d = a[i] - b[i];
    u64 b1 = a[i] < b[i];
    r[i] = d - borrow;
    borrow = b1 | (d < borrow);
  }
  return borrow;
#endif
}

/* r = a + b, returns the carry (0 or 1) */
FORCE_INLINE u64 u256_add(u64 r[4], const u64 a[4], const u64 b[4]) {
#ifdef HAVE_ADC_INTRIN
  unsigned char c = 0;
  unsigned long long o;
  for (int i = 0; i < 4; i++) {
    c = _addcarry_u64(c, a[i], b[i], &o);
    r[i] = o;
  }
  return c;
#else
  u64 carry = 0;
  for (int i = 0; i < 4; i++) {
    u64 s = a[i] + b[i];
    u64 c1 = s < a[i];
    r[i] = s + carry;
    carry = c1 | (r[i] < s);
  }
  return carry;
#endif
}

/* z = t - q if t >= q else t, without a branch (t < 2q) */
FORCE_INLINE void u256_csub(u64 z[4], const u64 t[4], const u64 q[4]) {
  u64 s[4];
  u64 keep = -u256_sub(s, t, q); /* all ones when t < q */
  for (int i = 0; i < 4; i++) z[i] = (t[i] & keep) | (s[i] & ~keep);
}

/* ---- multi-precision products ------------------------------------------------------ */

FORCE_INLINE u64 addc(u64 a, u64 b, unsigned char *c) {
#ifdef HAVE_ADC_INTRIN
  unsigned long long o;
  *c = _addcarry_u64(*c, a, b, &o);
  return o;
#else
  u64 s = a + b;
  u64 c1 = s < a;
  u64 r = s + *c;
  *c = (unsigned char)(c1 | (r < s));
  return r;
#endif
}

#define MUL64(hi, lo, a, b)          \
  do {                               \
    u128 _p = (u128)(a) * (b);       \
    (lo) = (u64)_p;                  \
    (hi) = (u64)(_p >> 64);          \
  } while (0)

/* t = a·b, 8 limbs (row by row; each row is a 5-limb product added in one carry chain) */
FORCE_INLINE void mul_wide(u64 t[8], const u64 a[4], const u64 b[4]) {
  unsigned char c = 0;
  u64 h0, l0, h1, l1, h2, l2, h3, l3;
  MUL64(h0, l0, a[0], b[0]);
  MUL64(h1, l1, a[1], b[0]);
  MUL64(h2, l2, a[2], b[0]);
  MUL64(h3, l3, a[3], b[0]);
  t[0] = l0;
  t[1] = addc(h0, l1, &c);
  t[2] = addc(h1, l2, &c);
  t[3] = addc(h2, l3, &c);
  t[4] = h3 + c;
  for (int i = 1; i < 4; i++) {
    u64 r1, r2, r3, r4;
    MUL64(h0, l0, a[0], b[i]);
    MUL64(h1, l1, a[1], b[i]);
    MUL64(h2, l2, a[2], b[i]);
    MUL64(h3, l3, a[3], b[i]);
    c = 0;
    r1 = addc(h0, l1, &c);
    r2 = addc(h1, l2, &c);
    r3 = addc(h2, l3, &c);
    r4 = h3 + c;
    c = 0;
    t[i] = addc(t[i], l0, &c);
    t[i + 1] = addc(t[i + 1], r1, &c);
    t[i + 2] = addc(t[i + 2], r2, &c);
    t[i + 3] = addc(t[i + 3], r3, &c);
    t[i + 4] = r4 + c;
  }
}

/* t = a^2, 8 limbs: six cross products doubled, plus four squares */
FORCE_INLINE void sqr_wide(u64 t[8], const u64 a[4]) {
  unsigned char c = 0;
  u64 h01, l01, h02, l02, h03, l03, h12, l12, h13, l13, h23, l23;
  u64 x1, x2, x3, x4, x5, x6, x7;
  MUL64(h01, l01, a[0], a[1]);
  MUL64(h02, l02, a[0], a[2]);
  MUL64(h03, l03, a[0], a[3]);
  MUL64(h12, l12, a[1], a[2]);
  MUL64(h13, l13, a[1], a[3]);
  MUL64(h23, l23, a[2], a[3]);
  x1 = l01;
  x2 = addc(h01, l02, &c);
  x3 = addc(h02, l03, &c);
  x4 = addc(h03, l13, &c);
  x5 = addc(h13, l23, &c);
  x6 = h23 + c;
  c = 0;
  x3 = addc(x3, l12, &c);
  x4 = addc(x4, h12, &c);
  x5 = addc(x5, 0, &c);
  x6 += c;
  x7 = x6 >> 63;
  x6 = (x6 << 1) | (x5 >> 63);
  x5 = (x5 << 1) | (x4 >> 63);
  x4 = (x4 << 1) | (x3 >> 63);
  x3 = (x3 << 1) | (x2 >> 63);
  x2 = (x2 << 1) | (x1 >> 63);
  x1 <<= 1;
  u64 q0h, q0l, q1h, q1l, q2h, q2l, q3h, q3l;
  MUL64(q0h, q0l, a[0], a[0]);
  MUL64(q1h, q1l, a[1], a[1]);
  MUL64(q2h, q2l, a[2], a[2]);
  MUL64(q3h, q3l, a[3], a[3]);
  c = 0;
  t[0] = q0l;
  t[1] = addc(x1, q0h, &c);
  t[2] = addc(x2, q1l, &c);
  t[3] = addc(x3, q1h, &c);
  t[4] = addc(x4, q2l, &c);
  t[5] = addc(x5, q2h, &c);
  t[6] = addc(x6, q3l, &c);
  t[7] = addc(x7, q3h, &c);
}

/*
 * Montgomery reduction modulo p in one pass. p = 1 + P3·2^192 with P3 = 2^59 + 17, so
 * -p^-1 mod 2^256 = P3·2^192 - 1 and, with L = T mod 2^256 and H = T >> 256,
 *   m = T·(-p^-1) mod 2^256 = (-L mod 2^256) + k·2^192 (mod 2^256),  k = t0·P3 mod 2^64.
 * (T + m·p) / 2^256 = H + (L + m)/2^256 + m·P3/2^64; writing it out exactly:
 *   L + m = k·2^192 + 2^256·([L != 0] - c3)   (c3: carry of the top limb of (-L) + k·2^192)
 *   k + (m·P3 mod 2^64) = 2^64·[k != 0]        (m·P3 ≡ -k mod 2^64; k = 0 iff t0 = 0)
 * so the result is H + floor(m·P3 / 2^64) + [L != 0] + [t0 != 0] - c3.
 * Needs T < p·2^256; gives z < 2p (p < 2^256/29, so inputs below 2p keep T < 4p^2 in range).
 */
FORCE_INLINE void redc_p_core(u64 z[4], const u64 t[8]) {
  static const u64 P3 = 0x0800000000000011ULL;
  u64 m[4], zero4[4] = {0, 0, 0, 0};
  u64 l_nonzero = u256_sub(m, zero4, t); /* m = -L mod 2^256; borrow = [L != 0] */
  u64 t0_nonzero = t[0] != 0;
  unsigned char c = 0;
  m[3] = addc(m[3], t[0] * P3, &c);
  u64 c3 = c;
  /* X = floor(m·P3 / 2^64), four limbs */
  u64 h0, l0, h1, l1, h2, l2, h3, l3, x[4];
  MUL64(h0, l0, m[0], P3);
  MUL64(h1, l1, m[1], P3);
  MUL64(h2, l2, m[2], P3);
  MUL64(h3, l3, m[3], P3);
  (void)l0;
  c = 0;
  x[0] = addc(h0, l1, &c);
  x[1] = addc(h1, l2, &c);
  x[2] = addc(h2, l3, &c);
  x[3] = h3 + c;
  /* z = H + X + e, e = [L != 0] + [t0 != 0] - c3 in {-1, 0, 1, 2}, sign-extended */
  u64 e = l_nonzero + t0_nonzero - c3;
  u64 se = (u64)((int64_t)e >> 63);
  u64 ev[4] = {e, se, se, se};
  u256_add(z, t + 4, x);
  u256_add(z, z, ev);
}

/* fully reduced: z < p */
FORCE_INLINE void redc_p(u64 z[4], const u64 t[8]) {
  u64 r[4];
  redc_p_core(r, t);
  u256_csub(z, r, K_P);
}

/* Generic Montgomery reduction (four word steps) for modulus q with qinv = -q^-1 mod 2^64. */
FORCE_INLINE void redc_generic(u64 z[4], const u64 tin[8], const u64 q[4], u64 qinv) {
  u64 t[9];
  memcpy(t, tin, 64);
  t[8] = 0;
  for (int i = 0; i < 4; i++) {
    u64 m = t[i] * qinv, h0, l0, h1, l1, h2, l2, h3, l3, r1, r2, r3, r4;
    unsigned char c = 0;
    MUL64(h0, l0, m, q[0]);
    MUL64(h1, l1, m, q[1]);
    MUL64(h2, l2, m, q[2]);
    MUL64(h3, l3, m, q[3]);
    r1 = addc(h0, l1, &c);
    r2 = addc(h1, l2, &c);
    r3 = addc(h2, l3, &c);
    r4 = h3 + c;
    c = 0;
    t[i] = addc(t[i], l0, &c);
    t[i + 1] = addc(t[i + 1], r1, &c);
    t[i + 2] = addc(t[i + 2], r2, &c);
    t[i + 3] = addc(t[i + 3], r3, &c);
    t[i + 4] = addc(t[i + 4], r4, &c);
    for (int j = i + 5; j < 9; j++) t[j] = addc(t[j], 0, &c);
  }
  u256_csub(z, t + 4, q); /* t < 2q < 2^253, so t[8] = 0 */
}

FORCE_INLINE void mod_add(u64 z[4], const u64 x[4], const u64 y[4], const u64 q[4]) {
  u64 t[4];
  u256_add(t, x, y); /* < 2q < 2^253: no carry out */
  u256_csub(z, t, q);
}

FORCE_INLINE void mod_sub(u64 z[4], const u64 x[4], const u64 y[4], const u64 q[4]) {
  u64 t[4], m[4];
  u64 mask = -u256_sub(t, x, y); /* all ones on borrow: add q back */
  for (int i = 0; i < 4; i++) m[i] = q[i] & mask;
  u256_add(z, t, m);
}

/* ---- F_p ------------------------------------------------------------------------------- */

FORCE_INLINE void fe_mul(fe *z, const fe *x, const fe *y) {
  u64 t[8];
  mul_wide(t, x->v, y->v);
  redc_p(z->v, t);
}
FORCE_INLINE void fe_sqr(fe *z, const fe *x) {
  u64 t[8];
  sqr_wide(t, x->v);
  redc_p(z->v, t);
}
/* Lazy forms: z < 2p and congruent; inputs may be below 2p (see redc_p_core). */
FORCE_INLINE void fe_mul_lazy(fe *z, const fe *x, const fe *y) {
  u64 t[8];
  mul_wide(t, x->v, y->v);
  redc_p_core(z->v, t);
}
FORCE_INLINE void fe_sqr_lazy(fe *z, const fe *x) {
  u64 t[8];
  sqr_wide(t, x->v);
  redc_p_core(z->v, t);
}
FORCE_INLINE void fe_add(fe *z, const fe *x, const fe *y) { mod_add(z->v, x->v, y->v, K_P); }
FORCE_INLINE void fe_sub(fe *z, const fe *x, const fe *y) { mod_sub(z->v, x->v, y->v, K_P); }
FORCE_INLINE void fe_dbl(fe *z, const fe *x) { mod_add(z->v, x->v, x->v, K_P); }
FORCE_INLINE void fe_neg(fe *z, const fe *x) {
  static const u64 zero[4] = {0, 0, 0, 0};
  mod_sub(z->v, zero, x->v, K_P);
}
FORCE_INLINE int fe_is_zero(const fe *x) { return u256_is_zero(x->v); }
FORCE_INLINE int fe_eq(const fe *x, const fe *y) { return u256_eq(x->v, y->v); }

/* canonical integer a < p -> Montgomery form */
FORCE_INLINE void fe_from_u256(fe *z, const u64 a[4]) {
  u64 t[8];
  mul_wide(t, a, K_P_R2);
  redc_p(z->v, t);
}
/* Montgomery form -> canonical integer */
FORCE_INLINE void fe_to_u256(u64 a[4], const fe *x) {
  u64 t[8] = {x->v[0], x->v[1], x->v[2], x->v[3], 0, 0, 0, 0};
  redc_p(a, t);
}

static inline void fe_sqr_n(fe *z, const fe *x, int n) {
  fe t = *x;
  for (int i = 0; i < n; i++) fe_sqr(&t, &t);
  *z = t;
}

/* z = x^-1 by Fermat, x^(p-2) with p-2 = 2^251 + 2^196 + 2^192 - 1 (x = 0 gives 0). */
static inline void fe_inv(fe *z, const fe *x) {
  fe x2, x4, x8, x16, acc;
  fe_sqr(&x2, x);
  fe_mul(&x2, &x2, x); /* x^(2^2-1) */
  fe_sqr_n(&x4, &x2, 2);
  fe_mul(&x4, &x4, &x2); /* x^(2^4-1) */
  fe_sqr_n(&x8, &x4, 4);
  fe_mul(&x8, &x8, &x4); /* x^(2^8-1) */
  fe_sqr_n(&x16, &x8, 8);
  fe_mul(&x16, &x16, &x8); /* x^(2^16-1) */
  fe_sqr_n(&acc, x, 55);
  fe_mul(&acc, &acc, x); /* x^(2^55+1) */
  fe_sqr_n(&acc, &acc, 4); /* x^(2^59+2^4) */
  for (int i = 0; i < 12; i++) {
    fe_sqr_n(&acc, &acc, 16);
    fe_mul(&acc, &acc, &x16);
  }
  *z = acc; /* x^((2^59+2^4)·2^192 + 2^192-1) */
}

/* Legendre symbol as x^((p-1)/2), (p-1)/2 = 2^191·(2^59+17): returns 1, -1 (non-residue) or 0. */
static inline int fe_legendre(const fe *x, const fe *one) {
  fe x16, acc;
  fe_sqr_n(&x16, x, 4);
  fe_sqr_n(&acc, &x16, 55); /* x^(2^59) */
  fe_mul(&acc, &acc, &x16);
  fe_mul(&acc, &acc, x); /* x^(2^59+17) */
  fe_sqr_n(&acc, &acc, 191);
  if (fe_eq(&acc, one)) return 1;
  if (fe_is_zero(&acc)) return 0;
  return -1;
}

/* ---- Z/n ------------------------------------------------------------------------------- */

FORCE_INLINE void fn_mont(u64 z[4], const u64 x[4], const u64 y[4]) {
  u64 t[8];
  mul_wide(t, x, y);
  redc_generic(z, t, K_N, K_N_INV);
}
FORCE_INLINE void fn_mul(fn *z, const fn *x, const fn *y) { fn_mont(z->v, x->v, y->v); }
FORCE_INLINE void fn_sqr(fn *z, const fn *x) {
  u64 t[8];
  sqr_wide(t, x->v);
  redc_generic(z->v, t, K_N, K_N_INV);
}
FORCE_INLINE void fn_from_u256(fn *z, const u64 a[4]) { fn_mont(z->v, a, K_N_R2); }
/* Montgomery-multiplies a canonical integer a < n by a Montgomery element: gives canonical a·y. */
FORCE_INLINE void fn_mul_plain(u64 out[4], const u64 a[4], const fn *y) { fn_mont(out, a, y->v); }
FORCE_INLINE void fn_to_u256(u64 a[4], const fn *x) {
  static const u64 one[4] = {1, 0, 0, 0};
  fn_mont(a, x->v, one);
}

/* z = x^(n-2) = x^-1 mod n, fixed 4-bit windows over the exponent */
static inline void fn_inv(fn *z, const fn *x) {
  u64 e[4];
  static const u64 two[4] = {2, 0, 0, 0};
  u256_sub(e, K_N, two);
  fn tab[16];
  /* tab[0] = Montgomery one = R mod n = to_mont(1) */
  static const u64 one[4] = {1, 0, 0, 0};
  fn_from_u256(&tab[0], one);
  tab[1] = *x;
  for (int i = 2; i < 16; i++) fn_mul(&tab[i], &tab[i - 1], x);
  fn acc = tab[0];
  for (int i = 63; i >= 0; i--) {
    unsigned d = (unsigned)((e[i / 16] >> ((i % 16) * 4)) & 15);
    if (i != 63) {
      fn_sqr(&acc, &acc);
      fn_sqr(&acc, &acc);
      fn_sqr(&acc, &acc);
      fn_sqr(&acc, &acc);
    }
    if (d) fn_mul(&acc, &acc, &tab[d]);
  }
  *z = acc;
}

#endif

/* Edge coverage for libFuzzer from g++: clang 14 cannot compile libstdc++ 12's <expected> (it lacks
 * P0848, conditionally trivial special members), so the targets are built with g++, whose only
 * control-flow instrumentation is -fsanitize-coverage=trace-pc (a call per basic block). This turns
 * those calls into AFL-style hashed edge counters and registers them with libFuzzer as "inline 8-bit
 * counters". libFuzzer's own __sanitizer_cov_trace_pc (which aborts: "not supported") is weakened in a
 * copy of the runtime by tests/fuzz/CMakeLists.txt so this definition wins.
 * Also: no-op float compare hooks that g++'s trace-cmp emits and libFuzzer lacks. */
#include <stddef.h>
#include <stdint.h>

#define OVL_COV_SIZE (1u << 16)

static uint8_t ovl_counters[OVL_COV_SIZE] __attribute__((aligned(4096)));
static __thread uintptr_t ovl_prev;

void __sanitizer_cov_8bit_counters_init(uint8_t* start, uint8_t* stop);

__attribute__((constructor)) static void ovl_cov_init(void) {
  __sanitizer_cov_8bit_counters_init(ovl_counters, ovl_counters + OVL_COV_SIZE);
}

__attribute__((no_sanitize_address, no_sanitize_undefined)) void __sanitizer_cov_trace_pc(void) {
  uintptr_t pc = (uintptr_t)__builtin_return_address(0);
  uintptr_t cur = (pc ^ (pc >> 15)) * 0x9E3779B1u;
  cur ^= cur >> 16;
  ovl_counters[(cur ^ ovl_prev) & (OVL_COV_SIZE - 1)]++;
  ovl_prev = (cur & (OVL_COV_SIZE - 1)) >> 1;
}

void __sanitizer_cov_trace_cmpf(float a, float b) { (void)a; (void)b; }
void __sanitizer_cov_trace_cmpd(double a, double b) { (void)a; (void)b; }

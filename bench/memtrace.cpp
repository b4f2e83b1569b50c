// Reduces valgrind lackey's --trace-mem output (one line per instruction and data access) to the distinct
// addresses a run touched inside one binary's image: "I <hex>" for code (4-byte units), "D <hex> <size>" for
// data (each distinct access: a string function's aligned read may start before the string it reads). scripts/hot-text.sh runs one per profiled process, reading lackey's log from a FIFO, and
// bench/hot_text.py maps the addresses to the input sections of the linker map.
// Usage: memtrace LOG OUT LO HI   (LO and HI in hex: the image's first and last-plus-one address)
#include <cstdio>
#include <cstdlib>
#include <set>
#include <utility>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: memtrace LOG OUT LO HI\n");
    return 2;
  }
  std::FILE* in = std::fopen(argv[1], "r");
  if (!in) {
    std::perror(argv[1]);
    return 1;
  }
  const unsigned long lo = std::strtoul(argv[3], nullptr, 16), hi = std::strtoul(argv[4], nullptr, 16);
  std::set<unsigned long> code;
  std::set<std::pair<unsigned long, unsigned long>> data;
  char line[256];
  while (std::fgets(line, sizeof line, in)) {
    // "I  0401000,3" for an instruction; " L 0ad1a90,8", " S ...", " M ..." for loads, stores, modifies.
    const bool instr = line[0] == 'I';
    if (!instr && !(line[0] == ' ' && (line[1] == 'L' || line[1] == 'S' || line[1] == 'M'))) continue;
    char* end = nullptr;
    const unsigned long a = std::strtoul(line + 3, &end, 16);
    if (a < lo || a >= hi) continue;
    if (instr)
      code.insert(a >> 2);
    else
      data.emplace(a, *end == ',' ? std::strtoul(end + 1, nullptr, 10) : 1);
  }
  std::fclose(in);
  std::FILE* out = std::fopen(argv[2], "w");
  if (!out) {
    std::perror(argv[2]);
    return 1;
  }
  for (unsigned long u : code) std::fprintf(out, "I %lx\n", u << 2);
  for (const auto& [a, size] : data) std::fprintf(out, "D %lx %lu\n", a, size);
  return std::fclose(out) == 0 ? 0 : 1;
}

#include "util/log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "util/unique_fd.hpp"

namespace ovl::log {
namespace {
struct State {
  std::string program = "ovl";
  std::string tag;
  Level level = Level::Warn;
  UniqueFd file;
};
State& state() {
  static State s;
  return s;
}
const char* name(Level l) {
  switch (l) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
  }
  return "?";
}
}  // namespace

void init(std::string_view program) {
  state().program = program;
  if (const char* lv = std::getenv("OVL_LOG_LEVEL")) {
    if (!std::strcmp(lv, "debug")) state().level = Level::Debug;
    else if (!std::strcmp(lv, "info")) state().level = Level::Info;
    else if (!std::strcmp(lv, "error")) state().level = Level::Error;
  }
  if (const char* f = std::getenv("OVL_LOG_FILE"); f && *f) setFile(f);
}

NestedProgram::NestedProgram(std::string_view program)
    : program_(state().program), tag_(state().tag), level_(state().level) {
  if (state().file) file_ = ::fcntl(state().file.get(), F_DUPFD_CLOEXEC, 0);
  state().program = program;
}

NestedProgram::~NestedProgram() {
  auto& s = state();
  s.program = std::move(program_);
  s.tag = std::move(tag_);
  s.level = level_;
  if (file_ >= 0) s.file.reset(file_);
  else s.file.reset();
}

void setTag(std::string tag) { state().tag = std::move(tag); }
void setLevel(Level l) { state().level = l; }
Level level() { return state().level; }

void setFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) state().file.reset(fd);
}

void write(Level l, std::string_view msg) {
  auto& s = state();
  bool toStderr = l >= s.level;
  if (!toStderr && !s.file) return;
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm tmv{};
  gmtime_r(&ts.tv_sec, &tmv);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tmv.tm_year + 1900, tmv.tm_mon + 1,
                tmv.tm_mday, tmv.tm_hour, tmv.tm_min, tmv.tm_sec, ts.tv_nsec / 1000000);
  std::string line;
  line.reserve(msg.size() + 96);
  line.append(stamp).append(" ").append(name(l)).append(" ").append(s.program).append("[");
  line.append(std::to_string(::getpid())).append("]");
  if (!s.tag.empty()) line.append(" ").append(s.tag);
  line.append(": ").append(msg);
  // One event per line: newlines inside a message would break log parsers.
  for (auto& c : line)
    if (c == '\n') c = ' ';
  line.push_back('\n');
  if (toStderr) (void)!::write(2, line.data(), line.size());
  if (s.file) (void)!::write(s.file.get(), line.data(), line.size());
}

}  // namespace ovl::log

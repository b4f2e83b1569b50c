// Logging: stderr and optionally a file (OVL_LOG_FILE or a plugin's logFile), never stdout.
#pragma once

#include <string>
#include <string_view>

namespace ovl::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };

// Configure once per process. Tag is prefixed to every line (e.g. "overlay c=abc123 if=eth0").
void init(std::string_view program);
void setTag(std::string tag);
void setFile(const std::string& path);  // appends, mode 0600; failures are ignored
void setLevel(Level l);
Level level();

// A nested plugin call run in this process (cni/delegate.hpp): its lines carry its own name, it may change the
// tag, level and file, and the caller's logging is back when this goes.
class NestedProgram {
 public:
  explicit NestedProgram(std::string_view program);
  ~NestedProgram();
  NestedProgram(const NestedProgram&) = delete;
  NestedProgram& operator=(const NestedProgram&) = delete;

 private:
  std::string program_, tag_;
  Level level_;
  int file_ = -1;  // a duplicate of the caller's log file, or -1
};

void write(Level l, std::string_view msg);
inline void debug(std::string_view m) { write(Level::Debug, m); }
inline void info(std::string_view m) { write(Level::Info, m); }
inline void warn(std::string_view m) { write(Level::Warn, m); }
inline void error(std::string_view m) { write(Level::Error, m); }

}  // namespace ovl::log

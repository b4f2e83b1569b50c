// overlayctl's command-line plumbing: argument parsing, the store connection shared by every command,
// and output (an aligned table, or JSON with --json).
#pragma once

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kv/consul.hpp"
#include "kv/node_config.hpp"
#include "util/error.hpp"

namespace ovl::ctl {

// Exit codes: 0 success / healthy, 1 failure / unhealthy, 2 usage error.
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// A usage error: exit code 2 (marked in Error::details).
std::unexpected<Error> usage(std::string msg);
bool isUsage(const Error& e);

struct Option {
  std::string name;  // "--subnet"
  bool takesValue = false;
  bool repeatable = false;
};

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> values;
  std::set<std::string> flags;

  bool has(const std::string& name) const { return flags.count(name) || values.count(name); }
  std::optional<std::string> value(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;
};

// Parses argv (after the command words) against the command's options plus the global ones
// (--store URL, --json, --help/-h). "--opt=value" and "--opt value" are both accepted.
Result<Args> parseArgs(std::span<char* const> argv, const std::vector<Option>& options);

// The command line with the global options given before the command moved after it (before a "--"), where
// every command's parser accepts them: `overlayctl --store URL network ls` is `overlayctl network ls --store
// URL`. --help/-h and --version before the command are answered by main().
struct CommandLine {
  std::vector<std::string> words;  // the command, its words and options, then the hoisted globals
  bool help = false;
  bool version = false;
};
Result<CommandLine> hoistGlobals(std::span<char* const> args);  // args: argv without argv[0]

// What every command needs: the node config, the store and this host's identity.
struct Context {
  kv::NodeConfig node;
  kv::StoreSpec store;
  std::string host;
  bool json = false;
};

// --store wins, then CONSUL_HTTP_ADDR, then the node config's "store" (the plugins' precedence otherwise).
Result<Context> makeContext(const Args& a);
Result<kv::ConsulClient> connect(const Context& c);

// A command's help: printed for --help, and (its first line) after a usage error.
struct Help {
  std::string synopsis;  // "overlayctl network ls [--json]"
  std::string text;      // the rest
};
void printHelp(const Help& h);

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  void print() const;  // to stdout

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// Pretty JSON with two-space indents (as the conflists overlayctl prints).
class JsonOut : public rapidjson::PrettyWriter<rapidjson::StringBuffer> {
 public:
  explicit JsonOut(rapidjson::StringBuffer& sb) : PrettyWriter(sb) { SetIndent(' ', 2); }
};
void key(JsonOut& w, std::string_view k);
void str(JsonOut& w, std::string_view s);
// Prints the buffer to stdout with a final newline.
void printJson(const rapidjson::StringBuffer& sb);

std::string join(const std::vector<std::string>& v, std::string_view sep);
// "2024-05-01T12:00:00Z" for a Unix time; "" for 0.
std::string isoTime(int64_t unixTime);
std::string nowIso();

}  // namespace ovl::ctl

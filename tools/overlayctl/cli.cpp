#include "overlayctl/cli.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>

namespace ovl::ctl {

std::unexpected<Error> usage(std::string msg) { return fail(Code::InvalidConfig, std::move(msg), "usage"); }
bool isUsage(const Error& e) { return e.details == "usage"; }

std::optional<std::string> Args::value(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = values.find(name);
  return it == values.end() ? std::vector<std::string>{} : it->second;
}

Result<Args> parseArgs(std::span<char* const> argv, const std::vector<Option>& options) {
  std::vector<Option> opts = options;
  opts.push_back({"--store", true, false});
  opts.push_back({"--json", false, false});
  opts.push_back({"--help", false, false});
  Args a;
  bool onlyPositional = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string arg = argv[i];
    if (onlyPositional || arg.size() < 2 || arg[0] != '-') {
      a.positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      onlyPositional = true;
      continue;
    }
    if (arg == "-h") arg = "--help";
    std::optional<std::string> inlineValue;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      inlineValue = arg.substr(eq + 1);
      arg.resize(eq);
    }
    auto it = std::find_if(opts.begin(), opts.end(), [&](const Option& o) { return o.name == arg; });
    if (it == opts.end()) return usage("unknown option '" + arg + "'");
    if (!it->takesValue) {
      if (inlineValue) return usage("option '" + arg + "' takes no value");
      a.flags.insert(arg);
      continue;
    }
    if (!inlineValue) {
      if (i + 1 >= argv.size()) return usage("option '" + arg + "' needs a value");
      inlineValue = argv[++i];
    }
    auto& vs = a.values[arg];
    if (!vs.empty() && !it->repeatable) return usage("option '" + arg + "' given twice");
    vs.push_back(*inlineValue);
  }
  return a;
}

Result<CommandLine> hoistGlobals(std::span<char* const> args) {
  CommandLine c;
  std::vector<std::string> globals;
  size_t i = 0;
  for (; i < args.size() && args[i][0] == '-'; ++i) {
    const std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") c.help = true;
    else if (arg == "--version") c.version = true;
    else if (arg == "--json" || arg.starts_with("--store=")) globals.emplace_back(arg);
    else if (arg == "--store") {
      if (i + 1 >= args.size()) return usage("option '--store' needs a value");
      globals.emplace_back(arg);
      globals.emplace_back(args[++i]);
    } else {
      return usage("unknown option '" + std::string(arg) + "' before the command");
    }
  }
  c.words.assign(args.begin() + std::ptrdiff_t(i), args.end());
  if (c.words.empty()) return c;  // no command: main() prints the usage
  auto end = std::find(c.words.begin() + std::min<std::ptrdiff_t>(1, std::ssize(c.words)), c.words.end(), "--");
  c.words.insert(end, globals.begin(), globals.end());
  return c;
}

Result<Context> makeContext(const Args& a) {
  Context c;
  c.json = a.has("--json");
  c.node = TRY(kv::loadNodeConfig());
  c.host = kv::hostIdentity(c.node);
  std::optional<std::string> url = a.value("--store");
  std::string field = "--store";
  if (!url) {
    if (const char* env = std::getenv("CONSUL_HTTP_ADDR"); env && *env) {
      url = env;
      const char* ssl = std::getenv("CONSUL_HTTP_SSL");
      bool https = ssl && (std::string_view(ssl) == "true" || std::string_view(ssl) == "1");
      if (https && url->find("://") == std::string::npos) url = "https://" + *url;
      field = "CONSUL_HTTP_ADDR";
    }
  }
  json::Doc obj;
  obj.SetObject();
  if (url) obj.AddMember("store", rapidjson::Value(url->c_str(), obj.GetAllocator()), obj.GetAllocator());
  auto spec = kv::resolveStore(&obj, "", c.node, true);
  if (!spec) {
    if (url) return fail(std::move(spec.error()).context(field));
    return fail(std::move(spec.error()));
  }
  c.store = *spec;
  if (c.store.kind != kv::StoreSpec::Consul)
    return fail(Code::InvalidConfig,
                "no cluster store: give --store consul://HOST:PORT, set CONSUL_HTTP_ADDR, or set \"store\" in the node "
                "config " + std::string(c.node.path.empty() ? kv::kDefaultNodeConfig : c.node.path));
  return c;
}

Result<kv::ConsulClient> connect(const Context& c) { return kv::ConsulClient::create(c.store.consul); }

void printHelp(const Help& h) { std::cout << "Usage: " << h.synopsis << "\n\n" << h.text; }

void Table::print() const {
  std::vector<size_t> width(headers_.size());
  for (size_t i = 0; i < headers_.size(); ++i) width[i] = headers_[i].size();
  for (const auto& r : rows_)
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size() && i < width.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size()) out += std::string(width[i] - cells[i].size() + 2, ' ');
    }
    std::cout << out << "\n";
  };
  line(headers_);
  for (const auto& r : rows_) line(r);
}

void key(JsonOut& w, std::string_view k) { w.Key(k.data(), rapidjson::SizeType(k.size())); }
void str(JsonOut& w, std::string_view s) { w.String(s.data(), rapidjson::SizeType(s.size())); }
void printJson(const rapidjson::StringBuffer& sb) { std::cout << sb.GetString() << "\n"; }

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : std::string(sep)) + s;
  return out;
}

std::string isoTime(int64_t t) {
  if (t <= 0) return "";
  std::time_t tt = std::time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string nowIso() { return isoTime(int64_t(std::time(nullptr))); }

}  // namespace ovl::ctl

// libcurl, loaded on first use.
//
// Linking libcurl costs every exec of a plugin about 5 ms of dynamic linking (Debian's libcurl pulls in
// ~30 libraries: TLS, HTTP/2, SSH, LDAP, GSSAPI, ...), even for VERSION or an IPAM call that uses the file
// store. So we do not link it: this file defines the few curl_* functions the Consul client uses and
// forwards them to libcurl.so.4 opened with dlopen() the first time one is called.
#include <curl/curl.h>
#include <dlfcn.h>

#include <cstdarg>
#include <mutex>

namespace {

struct CurlApi {
  void* handle = nullptr;
  CURLcode (*global_init)(long) = nullptr;
  CURL* (*easy_init)() = nullptr;
  void (*easy_cleanup)(CURL*) = nullptr;
  void (*easy_reset)(CURL*) = nullptr;
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...) = nullptr;
  CURLcode (*easy_perform)(CURL*) = nullptr;
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...) = nullptr;
  const char* (*easy_strerror)(CURLcode) = nullptr;
  curl_slist* (*slist_append)(curl_slist*, const char*) = nullptr;
  void (*slist_free_all)(curl_slist*) = nullptr;
};

template <class F>
bool bind(void* h, F& f, const char* name) {
  f = reinterpret_cast<F>(dlsym(h, name));
  return f != nullptr;
}

const CurlApi* api() {
  static CurlApi a;
  static bool ok = false;
  static std::once_flag once;
  std::call_once(once, [] {
    void* h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h) return;
    ok = bind(h, a.global_init, "curl_global_init") && bind(h, a.easy_init, "curl_easy_init") &&
         bind(h, a.easy_cleanup, "curl_easy_cleanup") && bind(h, a.easy_reset, "curl_easy_reset") &&
         bind(h, a.easy_setopt, "curl_easy_setopt") && bind(h, a.easy_perform, "curl_easy_perform") &&
         bind(h, a.easy_getinfo, "curl_easy_getinfo") && bind(h, a.easy_strerror, "curl_easy_strerror") &&
         bind(h, a.slist_append, "curl_slist_append") && bind(h, a.slist_free_all, "curl_slist_free_all");
    a.handle = h;
  });
  return ok ? &a : nullptr;
}

}  // namespace

extern "C" {

CURLcode curl_global_init(long flags) {
  const CurlApi* a = api();
  return a ? a->global_init(flags) : CURLE_FAILED_INIT;
}

CURL* curl_easy_init() {
  const CurlApi* a = api();
  return a ? a->easy_init() : nullptr;
}

void curl_easy_cleanup(CURL* h) {
  if (const CurlApi* a = api(); a && h) a->easy_cleanup(h);
}

void curl_easy_reset(CURL* h) {
  if (const CurlApi* a = api(); a && h) a->easy_reset(h);
}

// Every option takes exactly one argument whose type the option number encodes (CURLOPTTYPE_*).
CURLcode curl_easy_setopt(CURL* h, CURLoption opt, ...) {
  const CurlApi* a = api();
  if (!a) return CURLE_FAILED_INIT;
  va_list ap;
  va_start(ap, opt);
  CURLcode rc;
  const int type = static_cast<int>(opt) / 10000 * 10000;
  if (type == CURLOPTTYPE_LONG) rc = a->easy_setopt(h, opt, va_arg(ap, long));
  else if (type == CURLOPTTYPE_OFF_T) rc = a->easy_setopt(h, opt, va_arg(ap, curl_off_t));
  else rc = a->easy_setopt(h, opt, va_arg(ap, void*));  // object, function and blob pointers
  va_end(ap);
  return rc;
}

CURLcode curl_easy_perform(CURL* h) {
  const CurlApi* a = api();
  return a ? a->easy_perform(h) : CURLE_FAILED_INIT;
}

// Every CURLINFO takes one pointer to where the answer goes.
CURLcode curl_easy_getinfo(CURL* h, CURLINFO info, ...) {
  const CurlApi* a = api();
  if (!a) return CURLE_FAILED_INIT;
  va_list ap;
  va_start(ap, info);
  CURLcode rc = a->easy_getinfo(h, info, va_arg(ap, void*));
  va_end(ap);
  return rc;
}

const char* curl_easy_strerror(CURLcode rc) {
  const CurlApi* a = api();
  return a ? a->easy_strerror(rc) : "libcurl.so.4 could not be loaded (install libcurl4)";
}

curl_slist* curl_slist_append(curl_slist* list, const char* s) {
  const CurlApi* a = api();
  return a ? a->slist_append(list, s) : nullptr;
}

void curl_slist_free_all(curl_slist* list) {
  if (const CurlApi* a = api(); a && list) a->slist_free_all(list);
}

}  // extern "C"

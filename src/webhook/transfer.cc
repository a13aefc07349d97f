#include "webhook/transfer.h"

#include <strings.h>
#include <sys/socket.h>

#include <boost/url/parse.hpp>
#include <charconv>

#include "core/ip_guard.h"
#include "webhook/excerpt.h"

namespace webhook {
namespace {

constexpr size_t kMaxUtf8Char = 4;

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         strncasecmp(text.data(), prefix.data(), prefix.size()) == 0;
}

std::string_view TrimHeaderValue(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() &&
         (v.back() == ' ' || v.back() == '\t' || v.back() == '\r' || v.back() == '\n')) {
    v.remove_suffix(1);
  }
  return v;
}

bool IsTlsError(CURLcode code) {
  switch (code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string ErrorClass(CURLcode code, bool refused, bool too_large, std::string_view detail) {
  if (code == CURLE_OK) return "";
  if (too_large && code == CURLE_WRITE_ERROR) return "too_large";
  if (refused && code == CURLE_COULDNT_CONNECT) return "refused_address";
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      if (StartsWithIgnoreCase(detail, "Resolving timed out")) return "dns";
      if (StartsWithIgnoreCase(detail, "Connection timed out") ||
          StartsWithIgnoreCase(detail, "Failed to connect")) {
        return "connect";
      }
      return "timeout";
    case CURLE_COULDNT_RESOLVE_HOST:
      return "dns";
    case CURLE_COULDNT_CONNECT:
      return "connect";
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return "bad_url";
    default:
      return IsTlsError(code) ? "tls" : "transport";
  }
}

namespace {

// libcurl's reading of the host and port: it is more lenient than RFC 3986 (it sends URLs with,
// say, a '|' in their path), so a URL Boost.URL refuses is read as libcurl will read it.
std::optional<std::string> CurlHostKey(const std::string& url) {
  CURLU* u = curl_url();
  if (u == nullptr) return std::nullopt;
  std::optional<std::string> key;
  char* host = nullptr;
  char* port = nullptr;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
    std::string h(host);
    for (char& c : h) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    key = h + ":" + port;
  }
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  return key;
}

}  // namespace

std::optional<std::string> HostKey(const std::string& url) {
  // Boost.URL reads a well-formed URL in place; libcurl's URL API allocated a handle and
  // copies of every part (a twentieth of the dispatcher's work per delivery).
  const auto u = boost::urls::parse_uri(url);
  if (!u) return CurlHostKey(url);
  std::string key(u->encoded_host());  // an IPv6 address keeps its brackets, as libcurl's
  if (key.empty()) return std::nullopt;
  for (char& c : key) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  uint32_t port = 0;
  if (u->has_port()) {
    const std::string_view digits = u->port();  // port_number() wraps above 65535
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc() || end != digits.data() + digits.size() || port > 65535) port = 0;
  } else if (u->scheme_id() == boost::urls::scheme::http) {
    port = 80;
  } else if (u->scheme_id() == boost::urls::scheme::https) {
    port = 443;
  }
  if (port == 0) return std::nullopt;
  key += ':';
  key += std::to_string(port);
  return key;
}

core::Result<std::unique_ptr<Transfer>> Transfer::Create(OutgoingRequest request,
                                                         const TransferOptions& options,
                                                         CURL* reuse) {
  std::unique_ptr<Transfer> t(new Transfer(std::move(request), options, reuse));
  if (auto r = t->Configure(); !r) return std::move(r).error();
  return t;
}

Transfer::Transfer(OutgoingRequest request, const TransferOptions& options, CURL* easy)
    : request_(std::move(request)),
      options_(options),
      started_(std::chrono::steady_clock::now()),
      easy_(easy) {}

CURL* Transfer::Release() {
  CURL* easy = easy_;
  easy_ = nullptr;
  if (easy == nullptr) return nullptr;
  void* none = nullptr;
  for (CURLoption option :
       {CURLOPT_ERRORBUFFER, CURLOPT_WRITEDATA, CURLOPT_HEADERDATA, CURLOPT_OPENSOCKETDATA,
        CURLOPT_PREREQDATA, CURLOPT_HTTPHEADER, CURLOPT_POSTFIELDS}) {
    curl_easy_setopt(easy, option, none);
  }
  return easy;
}

Transfer::~Transfer() {
  if (easy_ != nullptr) curl_easy_cleanup(easy_);
  curl_slist_free_all(headers_);
}

core::Result<void> Transfer::Configure() {
  if (easy_ == nullptr) easy_ = curl_easy_init();
  if (easy_ == nullptr) return core::Internal("curl_easy_init failed");
  CURLcode rc = CURLE_OK;
  const auto set = [&](CURLoption option, auto value) {
    if (rc == CURLE_OK) rc = curl_easy_setopt(easy_, option, value);
  };
  set(CURLOPT_URL, request_.url.c_str());
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_FOLLOWLOCATION, 0L);
  set(CURLOPT_PROXY, "");  // environment proxies would bypass the SSRF guard
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_TIMEOUT_MS, static_cast<long>(options_.attempt_timeout.count()));
  set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  set(CURLOPT_TCP_KEEPALIVE, 1L);
  set(CURLOPT_ERRORBUFFER, error_buffer_);
  set(CURLOPT_WRITEFUNCTION, &Transfer::OnWrite);
  set(CURLOPT_WRITEDATA, this);
  set(CURLOPT_HEADERFUNCTION, &Transfer::OnHeader);
  set(CURLOPT_HEADERDATA, this);
  // Counts the sends whatever the method: a rewind callback would see only the resends of a
  // request with a body (libcurl rewinds only after body bytes went out).
  set(CURLOPT_PREREQFUNCTION, &Transfer::OnPrerequest);
  set(CURLOPT_PREREQDATA, this);
  if (!options_.allow_private) {
    set(CURLOPT_OPENSOCKETFUNCTION, &Transfer::OnOpenSocket);
    set(CURLOPT_OPENSOCKETDATA, this);
  }
  // The method last: setting the body makes libcurl's method POST, and a reused handle still
  // has the last request's body, method and custom method until they are set again.
  const bool has_body = request_.method != "HEAD" && request_.method != "GET";
  set(CURLOPT_POSTFIELDSIZE_LARGE,
      has_body ? static_cast<curl_off_t>(request_.body.size()) : curl_off_t{-1});
  set(CURLOPT_POSTFIELDS, has_body ? request_.body.data() : nullptr);  // request_ outlives it
  set(CURLOPT_CUSTOMREQUEST,
      has_body && request_.method != "POST" ? request_.method.c_str() : nullptr);
  if (request_.method == "HEAD") {
    set(CURLOPT_NOBODY, 1L);
  } else if (request_.method == "GET") {
    set(CURLOPT_NOBODY, 0L);
    set(CURLOPT_HTTPGET, 1L);
  } else {
    set(CURLOPT_NOBODY, 0L);
    set(CURLOPT_POST, 1L);
  }
  bool has_content_type = false;
  for (const auto& [name, value] : request_.headers) {
    has_content_type = has_content_type || strcasecmp(name.c_str(), "content-type") == 0;
    // "Name:" would remove the header; "Name;" sends it empty.
    const std::string line = value.empty() ? name + ";" : name + ": " + value;
    curl_slist* next = curl_slist_append(headers_, line.c_str());
    if (next == nullptr) return core::Internal("curl_slist_append failed");
    headers_ = next;
  }
  // No "Expect: 100-continue" round trip, and no form Content-Type libcurl would make up.
  for (const char* line : {"Expect:", has_content_type ? nullptr : "Content-Type:"}) {
    if (line == nullptr) continue;
    curl_slist* next = curl_slist_append(headers_, line);
    if (next == nullptr) return core::Internal("curl_slist_append failed");
    headers_ = next;
  }
  set(CURLOPT_HTTPHEADER, headers_);
  if (rc != CURLE_OK) {
    return core::Internal(std::string("curl_easy_setopt: ") + curl_easy_strerror(rc));
  }
  return {};
}

size_t Transfer::OnWrite(char* data, size_t size, size_t n, void* self_ptr) {
  auto* self = static_cast<Transfer*>(self_ptr);
  const size_t bytes = size * n;
  const size_t keep = self->options_.excerpt_bytes + kMaxUtf8Char - 1;
  if (self->body_.size() < keep) {
    self->body_.append(data, std::min(bytes, keep - self->body_.size()));
  }
  self->body_bytes_ += bytes;
  if (self->body_bytes_ > self->options_.max_response_bytes) {
    self->too_large_ = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  return bytes;
}

size_t Transfer::OnHeader(char* data, size_t size, size_t n, void* self_ptr) {
  auto* self = static_cast<Transfer*>(self_ptr);
  const std::string_view line(data, size * n);
  constexpr std::string_view kRetryAfter = "retry-after:";
  if (StartsWithIgnoreCase(line, "HTTP/")) {
    self->retry_after_.reset();  // a new (possibly final) response begins
  } else if (StartsWithIgnoreCase(line, kRetryAfter)) {
    self->retry_after_ = std::string(TrimHeaderValue(line.substr(kRetryAfter.size())));
  }
  return size * n;
}

curl_socket_t Transfer::OnOpenSocket(void* self_ptr, curlsocktype purpose, curl_sockaddr* address) {
  auto* self = static_cast<Transfer*>(self_ptr);
  if (purpose != CURLSOCKTYPE_IPCXN || !core::IsPublicAddress(&address->addr)) {
    self->refused_ = true;
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype, address->protocol);
}

int Transfer::OnPrerequest(void* self_ptr, char*, char*, int, int) {
  auto* self = static_cast<Transfer*>(self_ptr);
  if (++self->sends_ <= kMaxSendsPerAttempt) return CURL_PREREQFUNC_OK;
  self->send_refused_ = true;
  return CURL_PREREQFUNC_ABORT;  // ends the transfer with CURLE_ABORTED_BY_CALLBACK
}

TransferResult Transfer::Finish(CURLcode code) {
  TransferResult r;
  r.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - started_)
                     .count();
  r.error = ErrorClass(code, refused_, too_large_, error_buffer_);
  if (send_refused_ && code == CURLE_ABORTED_BY_CALLBACK) {
    // libcurl sends again only after a reused connection closed (or failed) before a byte of
    // answer: the class of a connection closed without an answer.
    r.error = "transport";
    r.detail = "sent " + std::to_string(kMaxSendsPerAttempt) +
               " times, each on a reused connection that closed before a byte of answer; not "
               "sent again in this attempt";
  }
  long status = 0;
  if ((code == CURLE_OK || r.error == "too_large") &&
      curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status > 0) {
    r.http_status = static_cast<int>(status);
  }
  r.excerpt = Utf8Excerpt(body_, options_.excerpt_bytes);
  if (r.http_status) r.retry_after = retry_after_;
  return r;
}

}  // namespace webhook

#include "app/app.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "core/call_key.h"
#include "core/crypto.h"
#include "http/api.h"
#include "http/server.h"
#include "service/call_service.h"
#include "store/store.h"
#include "webhook/dispatcher.h"

namespace app {

namespace json = boost::json;
using core::Result;

namespace {

bool IsPostgres(const std::string& database) {
  return database.rfind("postgresql://", 0) == 0 || database.rfind("postgres://", 0) == 0;
}

// The SQLite database's path (its directory made), or "" for PostgreSQL.
// The SQLite database file `o` names ("" for PostgreSQL); its folder is made unless `existing`,
// where the file must be there already.
Result<std::string> SqlitePath(const AppOptions& o, bool existing = false) {
  if (IsPostgres(o.database)) return std::string();
  std::string path;
  if (o.database.empty()) {
    path = (std::filesystem::path(o.data_dir) / "callpost.db").string();
  } else if (o.database.rfind("sqlite:", 0) == 0) {
    path = o.database.substr(7);
  } else {
    return core::InvalidArgument("--database: must be sqlite:PATH or postgresql://…", "database");
  }
  if (path.empty()) return core::InvalidArgument("--database: sqlite: needs a path", "database");
  std::error_code ec;
  if (existing) {
    if (std::filesystem::exists(path, ec)) return path;
    return core::MakeError(core::ErrorCode::kNotFound,
                           "there is no database " + path +
                               " (check --data-dir or --database, or the config file's table "
                               "for this command)");
  }
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec)
    return core::MakeError(core::ErrorCode::kUnavailable,
                           "cannot create " + dir.string() + ": " + ec.message());
  return path;
}

Result<std::unique_ptr<store::Store>> OpenStore(const AppOptions& o, const std::string& sqlite) {
  if (sqlite.empty()) {
    store::PostgresOptions pg;
    pg.url = o.database;
    pg.writers = pg.read_connections = o.database_connections;
    return store::OpenPostgres(pg);
  }
  return store::OpenSqlite(store::SqliteOptions{sqlite});
}

// Every call key of a database is derived from one secret: a server started with another
// (a node given a different --secret, a database restored without its secret file) would answer
// 401 to every buyer of the calls already made, and hand out keys the other nodes refuse. The
// first server keeps a check value of its secret with the data (a key derived for a name no call
// has; it tells nothing of the secret); every later start compares.
Result<void> CheckSecret(store::Store& store, const core::CallKeys& keys) {
  const std::string check = keys.Derive("callpost secret check");
  std::string kept;
  auto r = store.WriteSync([&](store::Writer& w) -> Result<void> {
    auto v = w.KeepSetting("secret_check", check);
    if (!v) return std::move(v).error();
    kept = std::move(*v);
    return {};
  });
  if (!r) return r;
  if (kept != check) {
    return core::MakeError(core::ErrorCode::kConflict,
                           "the call-key secret (--secret, or the data directory's secret file) "
                           "is not the one this database's call keys were made with; start "
                           "with that secret (every node the same, and a restore with its "
                           "secret file)");
  }
  return {};
}

// One server on a SQLite database: it frees every lease it finds at its start (a crash's) and
// sends what they held, so a second server on the same file would send the first one's
// deliveries again. An exclusive flock on "<database>.lock", held while the server runs and
// dropped by the kernel when the process ends, however it ends. (A lock file of its own: on
// some network file systems flock is emulated with the byte-range locks SQLite takes.) The
// command line's other commands write through SQLite's own locking and take no lock here.
class ServeLock {
 public:
  static Result<std::unique_ptr<ServeLock>> Take(const std::string& database) {
    const std::string path = database + ".lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return core::MakeError(core::ErrorCode::kUnavailable,
                             "cannot open " + path + ": " + std::strerror(errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      ::close(fd);
      if (error == EWOULDBLOCK) {
        return core::MakeError(core::ErrorCode::kConflict,
                               "another callpost server is serving " + database + " (it holds " +
                                   path +
                                   "); one server owns a SQLite database, several nodes share a "
                                   "PostgreSQL one");
      }
      return core::MakeError(core::ErrorCode::kUnavailable,
                             "cannot lock " + path + ": " + std::strerror(error));
    }
    return std::unique_ptr<ServeLock>(new ServeLock(fd));
  }
  ~ServeLock() { ::close(fd_); }
  ServeLock(const ServeLock&) = delete;
  ServeLock& operator=(const ServeLock&) = delete;

 private:
  explicit ServeLock(int fd) : fd_(fd) {}
  const int fd_;
};

// Writes `text` to `path` with mode 0600 as one durable step: a file beside it, synced, renamed
// over it, and the directory synced. The secret below must survive a power cut once the
// database has recorded a check of it (CheckSecret): a new one would void every call key
// handed out.
Result<void> WriteSecretFile(const std::filesystem::path& path, const std::string& text) {
  const std::string tmp = path.string() + ".tmp";
  auto fail = [&](const std::string& what) {
    return core::MakeError(core::ErrorCode::kUnavailable,
                           "cannot write " + what + ": " + std::strerror(errno));
  };
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail(tmp);
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       fchmod(fd, 0600) == 0 && fsync(fd) == 0;
  close(fd);
  if (!written) return fail(tmp);
  if (rename(tmp.c_str(), path.c_str()) != 0) return fail(path.string());
  const int dir = open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return fail(path.parent_path().string());
  const bool synced = fsync(dir) == 0;
  close(dir);
  if (!synced) return fail(path.parent_path().string());
  return {};
}

// The call-key secret: configured, or kept in the data directory (mode 0600).
Result<std::string> LoadSecret(const AppOptions& o) {
  if (!o.secret.empty()) {
    if (o.secret.size() < 32)
      return core::InvalidArgument("--secret: must be at least 32 characters", "secret");
    return o.secret;
  }
  if (IsPostgres(o.database)) {
    // Every node must derive the same call keys; a secret per data directory would differ.
    return core::InvalidArgument(
        "--secret is required with a PostgreSQL database (the same on every node)", "secret");
  }
  // Made only where there is none: a secret file that cannot be read (its owner or mode after a
  // restore, say) or that is cut short is an error, never replaced, since every call key in the
  // database was derived from it.
  auto path = std::filesystem::path(o.data_dir) / "secret";
  std::error_code ec;
  if (std::filesystem::exists(path, ec) || ec) {  // ec: no telling, so not made either
    std::ifstream in(path);
    std::string secret;
    if (!in) {
      return core::MakeError(core::ErrorCode::kUnavailable,
                             "cannot read the call-key secret " + path.string() + ": " +
                                 (ec ? ec.message() : std::strerror(errno)));
    }
    if (!std::getline(in, secret) || secret.size() < 32) {
      return core::MakeError(core::ErrorCode::kUnavailable,
                             "the call-key secret " + path.string() +
                                 " is shorter than 32 characters: restore it from a backup");
    }
    return secret;
  }
  std::filesystem::create_directories(o.data_dir, ec);
  std::string secret = core::HexEncode(core::RandomBytes(32));
  if (auto w = WriteSecretFile(path, secret + "\n"); !w) return std::move(w).error();
  return secret;
}

void LogEvent(const char* what, json::object fields = {}) {
  fields["msg"] = what;
  spdlog::info(json::serialize(fields));
}

// The connections the HTTP server may hold: `wanted`, raising the soft open-files limit up to
// the hard one if needed, and leaving 768 descriptors for the webhooks' connections (512 at
// most), the database and logs.
size_t ConnectionLimit(int wanted) {
  if (wanted <= 0) return 0;
  constexpr rlim_t kReserve = 768;
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0) return static_cast<size_t>(wanted);
  const rlim_t needed = static_cast<rlim_t>(wanted) + kReserve;
  if (files.rlim_cur != RLIM_INFINITY && files.rlim_cur < needed) {
    rlimit raised = files;
    raised.rlim_cur = files.rlim_max == RLIM_INFINITY ? needed : std::min(needed, files.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) files = raised;
  }
  if (files.rlim_cur == RLIM_INFINITY || files.rlim_cur >= needed) return wanted;
  return static_cast<size_t>(std::max<rlim_t>(
      64, files.rlim_cur > kReserve * 2 ? files.rlim_cur - kReserve : files.rlim_cur / 2));
}

}  // namespace

Result<std::pair<std::string, uint16_t>> ParseListen(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos)
    return core::InvalidArgument("--listen: must be host:port", "listen");
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  in6_addr address{};
  if (inet_pton(AF_INET, host.c_str(), &address) != 1 &&
      inet_pton(AF_INET6, host.c_str(), &address) != 1) {
    return core::InvalidArgument(
        "--listen: the host must be an IP address (127.0.0.1, 0.0.0.0, [::1], [::]), not " +
            (host.empty() ? std::string("empty") : "\"" + host + "\""),
        "listen");
  }
  std::string port = listen.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
    return core::InvalidArgument("--listen: the port must be a number from 0 to 65535", "listen");
  }
  return std::make_pair(host, static_cast<uint16_t>(std::stoi(port)));
}

Result<std::string> NormalizePublicUrl(const std::string& url) {
  auto bad = [&](const std::string& why) {
    return core::InvalidArgument(
        "--public-url: " + why + " (for example https://calls.example.com)", "public_url");
  };
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return bad("not an absolute URL");
  if (parsed->scheme_id() != boost::urls::scheme::http &&
      parsed->scheme_id() != boost::urls::scheme::https) {
    return bad("the scheme must be http or https");
  }
  if (parsed->encoded_host().empty()) return bad("the URL has no host");
  if (parsed->has_query() || parsed->has_fragment() || parsed->has_userinfo()) {
    return bad("the URL may not have a query, a fragment or a user");
  }
  std::string out(url);
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out;
}

struct App::Impl {
  AppOptions options;
  core::SystemClock system_clock;
  const core::Clock* clock = nullptr;
  std::unique_ptr<ServeLock> lock;  // SQLite: held until after the store closes
  std::unique_ptr<store::Store> store;
  std::unique_ptr<core::CallKeys> keys;
  std::unique_ptr<service::ConfigService> config;
  std::unique_ptr<service::CallService> calls;
  std::unique_ptr<http::Api> api;
  std::unique_ptr<http::Server> server;
  size_t server_max_connections = 0;
  std::unique_ptr<webhook::Dispatcher> dispatcher;
  std::mt19937_64 rng{std::random_device{}()};
  std::mutex rng_mu;

  std::thread loop;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;  // guarded by mu
  bool stopped = false;

  void Loop() {
    auto next_reload = std::chrono::steady_clock::now();
    auto next_sweep = next_reload;
    auto next_refused_log = next_reload;
    uint64_t refused_logged = 0;
    std::unique_lock lock(mu);
    while (!stopping) {
      lock.unlock();
      // A full batch means more may be due: go on (at most 50 batches a tick) rather than
      // wait a tick per 1,000 deadlines.
      for (int batch = 0; batch < 50; ++batch) {
        auto r = calls->FireDueDeadlines(clock->Now(), 1000, options.lease_seconds * 1000);
        if (!r) {
          spdlog::error(
              json::serialize(json::object{{"msg", "deadlines"}, {"error", r.error().message}}));
        }
        if (!r || *r < 1000) break;
      }
      if (std::chrono::steady_clock::now() >= next_reload) {
        (void)config->ReloadIfChanged();
        // Changes made by another node (or process) take effect here within half a second.
        next_reload = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
      }
      // Refused connections never reach the API, which logs every request: one warning at
      // most every 10 s says how many there were.
      if (std::chrono::steady_clock::now() >= next_refused_log) {
        const uint64_t refused = server->refused_connections();
        if (refused > refused_logged) {
          spdlog::warn(json::serialize(json::object{{"msg", "connections refused"},
                                                    {"count", refused - refused_logged},
                                                    {"max_connections", server_max_connections}}));
          refused_logged = refused;
          next_refused_log = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        }
      }
      if (std::chrono::steady_clock::now() >= next_sweep) {
        // Once a minute: drop stored data-writing tags past their storage duration (expired
        // ones are never applied anyway; this frees the space) and close calls whose end never
        // arrived.
        (void)calls->SweepPrecallTags(clock->Now());
        (void)calls->CloseStaleCalls(clock->Now(), options.max_call_seconds);
        next_sweep = std::chrono::steady_clock::now() + std::chrono::minutes(1);
      }
      lock.lock();
      cv.wait_for(lock, std::chrono::milliseconds(options.deadline_poll_ms),
                  [this] { return stopping; });
    }
  }
};

App::App(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
App::~App() { Stop(); }

Result<std::unique_ptr<App>> App::Start(const AppOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  // A claim outlasts a webhook attempt: at least twice its timeout. Raised once here, for
  // deadlines and deliveries alike (the dispatcher keeps its own options sane as well).
  impl->options.lease_seconds =
      std::max(options.lease_seconds, 2 * options.webhook_timeout_seconds);
  impl->clock = options.clock ? options.clock : &impl->system_clock;
  auto listen = ParseListen(options.listen);
  if (!listen) return std::move(listen).error();
  std::string public_url;
  if (!options.public_url.empty()) {
    auto normalized = NormalizePublicUrl(options.public_url);
    if (!normalized) return std::move(normalized).error();
    public_url = std::move(*normalized);
  }
  // The address is tried before the data directory is touched: one that is wrong or taken
  // would otherwise fail after a first start had made (and so fixed) the call-key secret.
  if (auto free = http::Server::CheckAddress(listen->first, listen->second); !free) {
    return std::move(free).error();
  }
  Impl* raw = impl.get();
  // The database option is checked, and the lock taken, before the secret is read (or made):
  // a second server for a directory, or a bad --database, leaves it as it was.
  auto sqlite = SqlitePath(options);
  if (!sqlite) return std::move(sqlite).error();
  if (!sqlite->empty()) {
    auto lock = ServeLock::Take(*sqlite);
    if (!lock) return std::move(lock).error();
    impl->lock = std::move(*lock);
  }
  auto secret = LoadSecret(options);
  if (!secret) return std::move(secret).error();
  auto store = OpenStore(options, *sqlite);
  if (!store) return std::move(store).error();
  impl->store = std::move(*store);
  impl->keys = std::make_unique<core::CallKeys>(*secret);
  if (auto same = CheckSecret(*impl->store, *impl->keys); !same) return std::move(same).error();
  impl->config = std::make_unique<service::ConfigService>(
      *impl->store, *impl->clock, service::ConfigOptions{options.allow_private_webhooks});
  if (auto l = impl->config->Load(); !l) return std::move(l).error();
  impl->calls = std::make_unique<service::CallService>(*impl->store, *impl->config, *impl->clock,
                                                       *impl->keys, [raw] {
                                                         std::lock_guard lock(raw->rng_mu);
                                                         return raw->rng();
                                                       });
  // A node alone on its database (SQLite): leases left by a crash are free at once. On a shared
  // database they may be another node's and run out by themselves.
  if (!impl->store->shared()) {
    if (auto r = impl->store->WriteSync([](store::Writer& w) { return w.ReleaseLeases(); }); !r) {
      return std::move(r).error();
    }
  }
  webhook::DispatcherOptions dispatch;
  dispatch.allow_private = options.allow_private_webhooks;
  dispatch.max_in_flight = options.webhook_max_in_flight;
  dispatch.max_per_account = options.webhook_account_limit;
  dispatch.lease = std::chrono::seconds(impl->options.lease_seconds);  // raised above
  dispatch.attempt_timeout = std::chrono::seconds(options.webhook_timeout_seconds);
  impl->dispatcher = std::make_unique<webhook::Dispatcher>(dispatch, *impl->store, *impl->config,
                                                           *impl->keys, *impl->clock, [raw] {
                                                             std::lock_guard lock(raw->rng_mu);
                                                             return raw->rng();
                                                           });
  impl->calls->SetDeliverySink(impl->dispatcher.get());
  impl->dispatcher->Start();
  http::ApiOptions api_options;
  api_options.public_url = public_url;
  api_options.api_key_limit = {options.api_key_rate, options.api_key_burst};
  api_options.call_key_limit = {options.call_key_rate, options.call_key_burst};
  api_options.metrics_token = options.metrics_token;
  impl->api = std::make_unique<http::Api>(api_options, *impl->config, *impl->calls, *impl->store);
  impl->api->SetExtraMetrics([raw](std::string& out) {
    raw->dispatcher->RenderMetrics(out);
    const auto counter = [&out](const char* name, const char* help, uint64_t value) {
      out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
             " " + std::to_string(value) + "\n";
    };
    counter("callpost_http_connections_refused_total",
            "Connections refused at --max-connections (answered 503, or closed past twice the "
            "limit).",
            raw->server->refused_connections());
    counter("callpost_http_large_bodies_refused_total",
            "Requests answered 503 unread because the large request bodies announced by "
            "requests not yet answered already took their room (256 MiB).",
            raw->server->refused_bodies());
  });
  http::ServerOptions so;
  so.address = listen->first;
  so.port = listen->second;
  so.threads = options.threads;
  so.max_body_bytes = options.max_body_bytes;
  so.max_connections = ConnectionLimit(options.max_connections);
  impl->server_max_connections = so.max_connections;
  impl->server =
      std::make_unique<http::Server>(so, [raw](http::Request req, http::Responder respond) {
        raw->api->Handle(std::move(req), std::move(respond));
      });
  auto port = impl->server->Start();
  if (!port) return std::move(port).error();
  const std::string bound = http::HostPort(so.address, *port);
  // The default base of postback instructions is where this server listens (its port is known
  // only now when it was 0; the API reads it at each request).
  if (public_url.empty()) {
    public_url = "http://" + bound;
    impl->api->SetPublicUrl(public_url);
  }
  if (options.background) impl->loop = std::thread([raw] { raw->Loop(); });
  LogEvent(
      "serving",
      {{"listen", bound}, {"public_url", public_url}, {"max_connections", so.max_connections}});
  if (options.public_url.empty() && (so.address == "0.0.0.0" || so.address == "::")) {
    spdlog::warn(json::serialize(json::object{
        {"msg", "postback instructions name " + public_url +
                    ", which buyers cannot reach: set --public-url to the address they use"}}));
  }
  return std::unique_ptr<App>(new App(std::move(impl)));
}

uint16_t App::port() const { return impl_->server->port(); }

service::ConfigService& App::config() { return *impl_->config; }

Result<int> App::FireDueDeadlines() {
  return impl_->calls->FireDueDeadlines(impl_->clock->Now(), 1000,
                                        impl_->options.lease_seconds * 1000);
}

Result<int> App::CloseStaleCalls() {
  return impl_->calls->CloseStaleCalls(impl_->clock->Now(), impl_->options.max_call_seconds);
}

bool App::WaitForWebhooks(std::chrono::milliseconds timeout) {
  return impl_->dispatcher->WaitIdle(timeout);
}

void App::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->server->Stop();      // no new requests; in-flight ones finish
  impl_->api->StopWaiting();  // and those waiting for the store on threads of their own
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->loop.joinable()) impl_->loop.join();
  impl_->dispatcher->Stop();  // in-flight attempts finish and are recorded
  impl_->store->Close();      // flushes queued writes
  impl_->lock.reset();        // another server may take the database now
  LogEvent("stopped");
}

namespace {

// Runs `work` on the configuration of the store `options` names, opened for this command alone
// (beside a running server: SQLite takes writers one at a time, and the server sees the change
// at its next look at the configuration version).
// Only `accounts create` makes a database; the other commands read one that exists (a misspelt
// folder would otherwise give an empty list, or "no account", from a database just made).
template <typename T>
Result<T> WithConfig(const AppOptions& options, bool create,
                     const std::function<Result<T>(service::ConfigService&)>& work) {
  auto sqlite = SqlitePath(options, !create);
  if (!sqlite) return std::move(sqlite).error();
  auto store = OpenStore(options, *sqlite);
  if (!store) return std::move(store).error();
  core::SystemClock clock;
  service::ConfigService config(**store, clock);
  if (auto l = config.Load(); !l) return std::move(l).error();
  auto result = work(config);
  (*store)->Close();
  return result;
}

}  // namespace

Result<service::NewAccount> CreateAccount(const AppOptions& options, const std::string& name) {
  // A name that would be refused is, before the data directory is made.
  if (auto named = service::ConfigService::AccountNamed(name); !named) {
    return std::move(named).error();
  }
  return WithConfig<service::NewAccount>(
      options, true, [&](service::ConfigService& config) { return config.CreateAccount(name); });
}

Result<json::array> ListAccounts(const AppOptions& options) {
  return WithConfig<json::array>(options, false,
                                 [](service::ConfigService& config) -> Result<json::array> {
                                   json::array out;
                                   for (const auto& [id, account] : config.snapshot()->accounts) {
                                     auto shown = config.GetAccount(id);
                                     if (!shown) return std::move(shown).error();
                                     out.push_back(std::move(*shown));
                                   }
                                   return out;
                                 });
}

Result<service::NewApiKey> AddApiKey(const AppOptions& options, int64_t account_id,
                                     const std::string& name) {
  return WithConfig<service::NewApiKey>(
      options, false, [&](service::ConfigService& config) -> Result<service::NewApiKey> {
        if (config.snapshot()->accounts.count(account_id) == 0) {
          return core::MakeError(core::ErrorCode::kNotFound,
                                 "no account with id " + std::to_string(account_id));
        }
        return config.CreateApiKey(account_id, json::object{{"name", name}});
      });
}

}  // namespace app

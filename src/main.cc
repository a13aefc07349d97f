// callpost: the command line. Parses flags, environment variables and the config file into
// app::AppOptions, then serves or runs an administrative command.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "app/app.h"
#include "app/config_file.h"
#include "app/log_sink.h"

namespace {

constexpr const char* kVersion = "callpost 0.1.0";

// A finite number. CLI::Range lets "nan" through (every comparison with it is false), and a
// rate of nan turned its limit off.
const CLI::Validator kFinite(
    [](std::string& text) {
      char* end = nullptr;
      const double value = std::strtod(text.c_str(), &end);
      return std::isfinite(value) ? std::string() : std::string("must be a finite number");
    },
    "FINITE");

void SetUpLogging() {
  // Batched writes to standard error (app/log_sink.h): an info line reaches it within 100 ms,
  // a warning or an error at once.
  auto logger = std::make_shared<spdlog::logger>(
      "callpost",
      std::make_shared<app::BatchingSink>(STDERR_FILENO, std::chrono::milliseconds(100)));
  logger->flush_on(spdlog::level::warn);
  // Every line is one JSON object; messages are JSON objects of their own.
  logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","event":%v})",
                      spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
}

int Serve(const app::AppOptions& options) {
  // Signals are taken by sigwait below, never by a server thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  SetUpLogging();
  auto app = app::App::Start(options);
  if (!app) {
    std::cerr << "callpost: " << app.error().message << "\n";
    spdlog::shutdown();
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info(boost::json::serialize(boost::json::object{
      {"msg", "shutting down"}, {"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}}));
  (*app)->Stop();
  app->reset();
  spdlog::shutdown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"callpost: pay-per-call buyer postbacks, call keys, conversions and webhooks.",
               "callpost"};
  cli.set_version_flag("--version", kVersion);
  // CLI11 reads the config file before environment variables, so CALLPOST_CONFIG is applied
  // here, as the option's default.
  const char* config_env = std::getenv("CALLPOST_CONFIG");
  if (config_env != nullptr && !std::filesystem::exists(config_env)) {
    std::cerr << "callpost: CALLPOST_CONFIG names " << config_env << ", which does not exist\n";
    return 2;
  }
  cli.set_config("--config", config_env ? config_env : "",
                 "Read options from a TOML file: [serve] and [accounts.create] sections with the "
                 "long flags as keys (env: CALLPOST_CONFIG)");
  cli.require_subcommand(1);
  // A key a config file's table does not know is refused, not ignored (a misspelt option would
  // otherwise be dropped without a word). Set before the subcommands, which copy it.
  cli.allow_config_extras(CLI::config_extras_mode::error);
  cli.footer(
      "Every flag also reads an environment variable (CALLPOST_LISTEN, CALLPOST_DATA_DIR, ...)\n"
      "and a config-file key. Run 'callpost serve --help' for the server's options.");

  // Each subcommand reads into its own options: CLI11 applies environment variables to every
  // subcommand's options, so shared variables would let one overwrite the other.
  app::AppOptions options;         // serve
  app::AppOptions create_options;  // accounts create
  app::AppOptions list_options;    // accounts list
  app::AppOptions key_options;     // accounts add-key
  auto add_store = [](CLI::App* sub, app::AppOptions& target) {
    sub->add_option("--data-dir", target.data_dir, "Folder for the SQLite database and secret")
        ->envname("CALLPOST_DATA_DIR")
        ->capture_default_str();
    sub->add_option("--database", target.database,
                    "sqlite:PATH (default sqlite:<data-dir>/callpost.db) or postgresql://…")
        ->envname("CALLPOST_DATABASE");
    sub->add_option("--database-connections", target.database_connections,
                    "PostgreSQL: connections for writes, and as many for reads")
        ->envname("CALLPOST_DATABASE_CONNECTIONS")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
  };

  CLI::App* serve = cli.add_subcommand("serve", "Serve the HTTP API");
  // A bad --listen or --public-url is a usage error, refused before anything starts.
  const auto check = [](auto parse) {
    return [parse](const std::string& value) {
      auto r = parse(value);
      return r ? std::string() : r.error().message;
    };
  };
  serve->add_option("--listen", options.listen, "Address and port to listen on")
      ->envname("CALLPOST_LISTEN")
      ->check(check(app::ParseListen))
      ->capture_default_str();
  add_store(serve, options);
  serve
      ->add_option("--public-url", options.public_url,
                   "Base URL buyers reach this server at (postback instructions)")
      ->envname("CALLPOST_PUBLIC_URL")
      ->check(check(app::NormalizePublicUrl));
  serve
      ->add_option("--metrics-token", options.metrics_token,
                   "Ask for this token (Authorization: Bearer) on /metrics; none by default")
      ->envname("CALLPOST_METRICS_TOKEN")
      ->check([](const std::string& token) {
        return token.size() >= 16 ? std::string() : std::string("must be at least 16 characters");
      });
  serve
      ->add_flag("--allow-private-webhooks", options.allow_private_webhooks,
                 "Let webhooks reach loopback and private addresses (labs, tests)")
      ->envname("CALLPOST_ALLOW_PRIVATE_WEBHOOKS");
  serve->add_option("--threads", options.threads, "HTTP threads (0 = one per core)")
      ->envname("CALLPOST_THREADS")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  serve
      ->add_option("--max-call-seconds", options.max_call_seconds,
                   "Close calls whose end never arrived this long after they started")
      ->envname("CALLPOST_MAX_CALL_SECONDS")
      ->check(CLI::Range(int64_t{60}, int64_t{7 * 86400}))
      ->capture_default_str();
  serve
      ->add_option("--webhook-timeout-seconds", options.webhook_timeout_seconds,
                   "How long one webhook attempt may take, connection included")
      ->envname("CALLPOST_WEBHOOK_TIMEOUT_SECONDS")
      ->check(CLI::Range(1, 60))
      ->capture_default_str();
  serve
      ->add_option("--webhook-account-limit", options.webhook_account_limit,
                   "One account's share of the 512 webhook requests this server has sending or "
                   "waiting for a slot; past it an account is lent places while half stay free")
      ->envname("CALLPOST_WEBHOOK_ACCOUNT_LIMIT")
      ->check(CLI::Range(1, 512))
      ->capture_default_str();
  serve
      ->add_option(
          "--lease-seconds", options.lease_seconds,
          "Several nodes: how long a node's claim on a webhook delivery or a postback "
          "deadline lasts (at least twice the webhook timeout); a dead node's claims are taken "
          "over after it")
      ->envname("CALLPOST_LEASE_SECONDS")
      ->check(CLI::Range(2, 3600))
      ->capture_default_str();
  serve
      ->add_option("--api-key-rate", options.api_key_rate,
                   "Requests a second allowed per API key or publisher postback key (0 = no limit)")
      ->envname("CALLPOST_API_KEY_RATE")
      ->check(kFinite)
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  serve
      ->add_option("--api-key-burst", options.api_key_burst,
                   "Requests one API key may send at once above its rate")
      ->envname("CALLPOST_API_KEY_BURST")
      ->check(kFinite)
      ->check(CLI::Range(1.0, 1e7))
      ->capture_default_str();
  serve
      ->add_option("--call-key-rate", options.call_key_rate,
                   "Requests a second allowed per call on the buyer routes (0 = no limit)")
      ->envname("CALLPOST_CALL_KEY_RATE")
      ->check(kFinite)
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  serve
      ->add_option("--call-key-burst", options.call_key_burst,
                   "Requests one call's key may send at once above its rate")
      ->envname("CALLPOST_CALL_KEY_BURST")
      ->check(kFinite)
      ->check(CLI::Range(1.0, 1e7))
      ->capture_default_str();
  serve
      ->add_option("--max-connections", options.max_connections,
                   "Open connections served at once; more get 503 (0 = no limit)")
      ->envname("CALLPOST_MAX_CONNECTIONS")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  serve
      ->add_option("--secret", options.secret,
                   "Call-key secret shared by all nodes (default: <data-dir>/secret, created once)")
      ->envname("CALLPOST_SECRET");

  CLI::App* accounts = cli.add_subcommand("accounts", "Manage accounts");
  accounts->require_subcommand(1);
  CLI::App* create = accounts->add_subcommand("create", "Create an account and its first API key");
  std::string name;
  create->add_option("--name", name, "The account's name")->envname("CALLPOST_NAME")->required();
  add_store(create, create_options);
  CLI::App* list = accounts->add_subcommand("list", "List the accounts (id, name, settings)");
  add_store(list, list_options);
  CLI::App* add_key = accounts->add_subcommand(
      "add-key", "Make another API key for an account (the way back in when its keys are lost)");
  int64_t key_account = 0;
  std::string key_name = "added from the command line";
  add_key->add_option("--account", key_account, "The account's id (see accounts list)")
      ->required()
      ->check(CLI::PositiveNumber);
  add_key->add_option("--name", key_name, "The key's name")->capture_default_str();
  add_store(add_key, key_options);

  // Every command, as typed; its config-file table is the same words joined by dots.
  const std::pair<std::string, CLI::App*> commands[] = {{"serve", serve},
                                                        {"accounts create", create},
                                                        {"accounts list", list},
                                                        {"accounts add-key", add_key}};
  std::string command_names;
  for (const auto& [words, sub] : commands) {
    command_names += command_names.empty() ? words : ", " + words;
  }

  // The config file's text ("" without one), and its first error: the library reads a line it
  // cannot make sense of as nothing, and names an unknown key without its line, in INI's words.
  const auto config_error = [&]() -> std::optional<std::string> {
    const std::string config = cli.get_config_ptr()->as<std::string>();
    if (config.empty()) return std::nullopt;
    std::ifstream in(config);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    app::ConfigTables tables;
    for (const auto& [words, sub] : commands) {
      std::string table = words;
      std::replace(table.begin(), table.end(), ' ', '.');
      for (const CLI::Option* option : sub->get_options()) {
        for (const std::string& key : option->get_lnames()) tables[table].insert(key);
      }
    }
    auto error = app::ConfigSyntaxError(text);
    if (!error) error = app::ConfigKeyError(text, tables);
    if (error) return config + ": " + *error;
    return std::nullopt;
  };
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return cli.exit(e);  // --help, --version
    std::string reason = e.what();
    if (dynamic_cast<const CLI::ConfigError*>(&e) != nullptr)
      reason = config_error().value_or(reason);
    if (std::none_of(std::begin(commands), std::end(commands),
                     [](const auto& c) { return c.second->parsed(); })) {
      // The first word that is not an option nor --config's value: a misspelt command reads
      // better named than as "A subcommand is required".
      std::string command;
      for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--config") ++i;
        if (arg.empty() || arg.front() == '-') continue;
        command += command.empty() ? std::string(arg) : " " + std::string(arg);
        if (command != "accounts") break;
      }
      if (!command.empty() && std::none_of(std::begin(commands), std::end(commands),
                                           [&](const auto& c) { return c.first == command; })) {
        reason = "unknown command \"" + command + "\" (the commands are " + command_names + ")";
      }
    }
    if (reason.find("--help") == std::string::npos) reason += " (see callpost --help)";
    std::cerr << "callpost: " << reason << "\n";
    return 2;
  }
  if (auto error = config_error()) {
    std::cerr << "callpost: " << *error << "\n";
    return 2;
  }

  // The database holds webhook signing secrets and the data directory the call-key secret:
  // what callpost creates is its user's alone, whatever umask it was started with.
  umask(0077);
  if (serve->parsed()) return Serve(options);
  const auto failed = [](const core::Error& error) {
    std::cerr << "callpost: " << error.message << "\n";
    return 1;
  };
  if (create->parsed()) {
    auto account = app::CreateAccount(create_options, name);
    if (!account) return failed(account.error());
    std::cout << boost::json::serialize(boost::json::object{{"id", account->account.id},
                                                            {"name", account->account.name},
                                                            {"api_key", account->api_key}})
              << std::endl;
    return 0;
  }
  if (list->parsed()) {
    auto accounts = app::ListAccounts(list_options);
    if (!accounts) return failed(accounts.error());
    std::cout << boost::json::serialize(boost::json::object{{"data", std::move(*accounts)}})
              << std::endl;
    return 0;
  }
  if (add_key->parsed()) {
    auto key = app::AddApiKey(key_options, key_account, key_name);
    if (!key) return failed(key.error());
    std::cout << boost::json::serialize(boost::json::object{{"id", key->key.id},
                                                            {"account_id", key->key.account_id},
                                                            {"name", key->key.name},
                                                            {"api_key", key->secret}})
              << std::endl;
    return 0;
  }
  return 0;
}

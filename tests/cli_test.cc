// The command line: `callpost accounts create`, `callpost --help`, and `callpost serve` with a
// graceful stop on SIGTERM, run as a real process.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "harness.h"

namespace testing_harness {
namespace {

namespace json = boost::json;

std::string RunCommand(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  *status = pclose(p);
  return out;
}

// Whether something accepts TCP connections on 127.0.0.1:port (a probe that, unlike Http(),
// does not count a refused connection as a test failure).
bool Listening(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

TEST(Cli, HelpAndAccountsCreate) {
  TempDir dir;
  int status = 0;
  std::string help = RunCommand(std::string(CALLPOST_BINARY) + " serve --help", &status);
  EXPECT_EQ(status, 0);
  for (const char* flag :
       {"--listen", "--data-dir", "--database", "--public-url", "--allow-private-webhooks",
        "CALLPOST_LISTEN", "--api-key-rate", "--call-key-rate", "--max-connections"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
  std::string out = RunCommand(std::string(CALLPOST_BINARY) +
                                   " accounts create --name 'Acme calls' --data-dir " + dir.path(),
                               &status);
  ASSERT_EQ(status, 0) << out;
  json::value v = json::parse(out);
  EXPECT_EQ(v.at("id"), 1);
  EXPECT_EQ(v.at("name"), "Acme calls");
  EXPECT_GE(v.at("api_key").as_string().size(), 40u);
  RunCommand(std::string(CALLPOST_BINARY) + " accounts create --data-dir " + dir.path() + " 2>&1",
             &status);
  EXPECT_NE(status, 0) << "--name is required";
  const std::string unmade = dir.path() + "/unmade";
  out = RunCommand(
      std::string(CALLPOST_BINARY) + " accounts create --name '' --data-dir " + unmade + " 2>&1",
      &status);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << out;
  EXPECT_NE(out.find("name"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(unmade)) << "a refused name makes no data directory";
  // A flag wins over the environment.
  TempDir other;
  RunCommand("CALLPOST_DATA_DIR=" + other.path() + " " + CALLPOST_BINARY +
                 " accounts create --name b --data-dir " + dir.path(),
             &status);
  EXPECT_EQ(status, 0);
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/callpost.db"));
  EXPECT_FALSE(std::filesystem::exists(other.path() + "/callpost.db"));
  // --name reads CALLPOST_NAME too.
  out = RunCommand("CALLPOST_NAME=fromenv " + std::string(CALLPOST_BINARY) +
                       " accounts create --data-dir " + dir.path(),
                   &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(json::parse(out).at("name"), "fromenv");
  // What callpost makes is its user's alone (the database holds webhook signing secrets),
  // whatever umask it was started with.
  const std::string made = dir.path() + "/made";
  RunCommand(
      "umask 022; " + std::string(CALLPOST_BINARY) + " accounts create --name c --data-dir " + made,
      &status);
  ASSERT_EQ(status, 0);
  namespace fs = std::filesystem;
  const auto others = fs::perms::group_all | fs::perms::others_all;
  EXPECT_EQ(fs::status(made).permissions() & others, fs::perms::none);
  EXPECT_EQ(fs::status(made + "/callpost.db").permissions() & others, fs::perms::none);
}

// Bad options, and config files that are broken or name what no option is, stop the command
// before it does anything: "callpost: <reason>" and status 2. (timeout: a server that started
// all the same would be stopped, and the test fail.)
TEST(Cli, UsageErrorsAndBrokenConfigFilesStopWithStatus2) {
  TempDir dir;
  const std::string bin = "timeout 10 " + std::string(CALLPOST_BINARY);
  const std::string serve = " serve --listen 127.0.0.1:0 --data-dir " + dir.path();
  int files = 0;
  auto config = [&](const std::string& text) {
    const std::string path = dir.path() + "/c" + std::to_string(++files) + ".toml";
    std::ofstream(path) << text;
    return " --config " + path;
  };
  struct Case {
    std::string args;
    std::string want;  // in the message
  } cases[] = {
      {serve + " --bogus", "--bogus"},
      {serve + " --threads 999", "--threads"},
      {"", "A subcommand is required"},
      {" --config " + dir.path() + "/missing.toml" + serve, "missing.toml"},
      {config("[serve]\nlisten = 127.0.0.1:9\n") + serve, "line 2"},
      {config("[serve]\nlisten = \"127.0.0.1:0\"\nthreds = 2\n") + serve, "threds"},
      {config("[serve\nlisten = \"127.0.0.1:0\"\n") + serve, "line 1: a table header"},
      {config("[serve]\n\nlisen = \"127.0.0.1:0\"\n") + serve,
       "line 3: [serve] has no setting \"lisen\""},
      {config("[other]\nx = 1\n") + serve, "line 1: there is no table [other]"},
      {" servee", "unknown command \"servee\""},
      {" accounts crate --name x", "unknown command \"accounts crate\""},
      {serve + " --listen localhost:0", "--listen: the host must be an IP address"},
      {serve + " --listen 127.0.0.1", "--listen: must be host:port"},
      {serve + " --public-url calls.example.com", "--public-url: not an absolute URL"},
      {serve + " --public-url https://calls.example.com/?x=1", "--public-url: the URL may not"},
      {serve + " --api-key-rate nan", "--api-key-rate: must be a finite number"},
      {serve + " --call-key-burst inf", "--call-key-burst: must be a finite number"},
  };
  for (const Case& c : cases) {
    int status = 0;
    const std::string out = RunCommand(bin + c.args + " 2>&1", &status);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << c.args << ": " << out;
    EXPECT_EQ(out.rfind("callpost: ", 0), 0u) << c.args << ": " << out;
    EXPECT_NE(out.find(c.want), std::string::npos) << c.args << ": " << out;
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/callpost.db")) << c.args;
  }
}

// An address that cannot be listened on fails before the data directory is touched: a first
// start that made its secret first would have fixed it, and the next start, given the secret it
// meant to use, would be refused.
TEST(Cli, AnAddressInUseFailsBeforeTheDataDirectoryIsMade) {
  TempDir dir;
  const int taken = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(taken, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(taken, 1), 0);
  socklen_t len = sizeof addr;
  getsockname(taken, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string data = dir.path() + "/data";
  int status = 0;
  const std::string out =
      RunCommand("timeout 20 " + std::string(CALLPOST_BINARY) + " serve --listen 127.0.0.1:" +
                     std::to_string(ntohs(addr.sin_port)) + " --data-dir " + data + " 2>&1",
                 &status);
  close(taken);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << out;
  EXPECT_NE(out.find("cannot listen"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(data)) << out;
}

// The data directory's call-key secret is made only where there is none: one that is cut short,
// or cannot be read as a file, stops the start with an error and stays as it was (every call
// key in the database was derived from it).
TEST(Cli, ASecretFileThatCannotBeUsedIsAnErrorAndStaysAsItWas) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/short");
  std::ofstream(dir.path() + "/short/secret") << "cut-short\n";
  std::filesystem::create_directories(dir.path() + "/unreadable/secret");  // not a file
  for (const char* sub : {"short", "unreadable"}) {
    int status = 0;
    const std::string out =
        RunCommand("timeout 20 " + std::string(CALLPOST_BINARY) +
                       " serve --listen 127.0.0.1:0 --data-dir " + dir.path() + "/" + sub + " 2>&1",
                   &status);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << sub << ": " << out;
    EXPECT_NE(out.find("call-key secret " + dir.path() + "/" + sub + "/secret"), std::string::npos)
        << sub << ": " << out;
  }
  std::ifstream in(dir.path() + "/short/secret");
  std::string kept;
  std::getline(in, kept);
  EXPECT_EQ(kept, "cut-short");
  EXPECT_TRUE(std::filesystem::is_directory(dir.path() + "/unreadable/secret"));
}

TEST(Cli, ServeStopsGracefullyOnSigterm) {
  TempDir dir;
  int status = 0;
  std::string out = RunCommand(
      std::string(CALLPOST_BINARY) + " accounts create --name a --data-dir " + dir.path(), &status);
  std::string key(json::parse(out).at("api_key").as_string());
  RecordSecret(key);
  // Find a free port by binding port 0 through a short-lived server.
  uint16_t port;
  {
    Server probe;
    port = probe.app().port();
  }
  const std::string log = LogDir() + "/cli-serve-" + std::to_string(getpid()) + ".log";
  pid_t pid = fork();
  if (pid == 0) {
    // Options come from a config file and the environment as well as flags.
    std::string config = dir.path() + "/callpost.toml";
    std::ofstream(config) << "[serve]\nlisten = \"127.0.0.1:" << port
                          << "\"\nmax-connections = 100\napi-key-rate = 1000\n";
    freopen(log.c_str(), "w", stderr);
    setenv("CALLPOST_DATA_DIR", dir.path().c_str(), 1);
    execl(CALLPOST_BINARY, CALLPOST_BINARY, "--config", config.c_str(), "serve", nullptr);
    _exit(127);
  }
  std::string url = "http://127.0.0.1:" + std::to_string(port);
  HttpResponse health;
  // Waiting for a process to start listening, not for a timer: a sanitizer build (make
  // test-asan) takes a few hundred milliseconds to get there.
  for (int i = 0; i < 200 && !Listening(port); ++i) usleep(50'000);
  health = Http("GET", url + "/healthz");
  ASSERT_EQ(health.status, 200);
  HttpResponse created =
      Http("POST", url + "/api/v1/publishers", R"({"name":"P"})", {"Authorization: Bearer " + key});
  EXPECT_EQ(created.status, 201) << created.body;
  // One server owns a SQLite database: a second one on it refuses to start and says why (were
  // it to serve, it would send the first one's webhooks again) ...
  std::string second =
      RunCommand("timeout 20 " + std::string(CALLPOST_BINARY) +
                     " serve --listen 127.0.0.1:0 --data-dir " + dir.path() + " 2>&1",
                 &status);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 124)
      << second;
  EXPECT_NE(second.find("another callpost server is serving"), std::string::npos) << second;
  // ... while the other commands work beside it.
  RunCommand(std::string(CALLPOST_BINARY) + " accounts create --name b --data-dir " + dir.path(),
             &status);
  EXPECT_EQ(status, 0);
  out =
      RunCommand(std::string(CALLPOST_BINARY) + " accounts list --data-dir " + dir.path(), &status);
  ASSERT_EQ(status, 0) << out;
  const json::array listed = json::parse(out).at("data").as_array();
  ASSERT_EQ(listed.size(), 2u) << out;
  EXPECT_EQ(listed[1].at("name"), "b");
  // A lost key: another one, made from the command line, works on the running server at once.
  out = RunCommand(
      std::string(CALLPOST_BINARY) + " accounts add-key --account 1 --data-dir " + dir.path(),
      &status);
  ASSERT_EQ(status, 0) << out;
  const std::string added(json::parse(out).at("api_key").as_string());
  RecordSecret(added);
  HttpResponse account =
      Http("GET", url + "/api/v1/account", "", {"Authorization: Bearer " + added});
  EXPECT_EQ(account.status, 200) << account.body;
  EXPECT_NE(account.body.find("\"id\":1"), std::string::npos) << account.body;
  RunCommand(std::string(CALLPOST_BINARY) + " accounts add-key --account 3 --data-dir " +
                 dir.path() + " 2>/dev/null",
             &status);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << "no account 3";
  // On a folder with no database (misspelt), they say so and make none.
  for (const char* command : {" accounts list", " accounts add-key --account 1"}) {
    out = RunCommand(
        std::string(CALLPOST_BINARY) + command + " --data-dir " + dir.path() + "/typo 2>&1",
        &status);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << command << ": " << out;
    EXPECT_NE(out.find("there is no database " + dir.path() + "/typo/callpost.db"),
              std::string::npos)
        << command << ": " << out;
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/typo")) << command;
  }
  kill(pid, SIGTERM);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  EXPECT_TRUE(WIFEXITED(wstatus));
  EXPECT_EQ(WEXITSTATUS(wstatus), 0);
  std::ifstream log_file(log);
  std::string line, all;
  while (std::getline(log_file, line)) {
    all += line + "\n";
    EXPECT_EQ(line.find(key), std::string::npos) << "an API key reached the log";
    json::error_code ec;
    json::parse(line, ec);
    EXPECT_FALSE(ec) << "log lines are JSON: " << line;
  }
  EXPECT_NE(all.find("\"stopped\""), std::string::npos) << all;
  EXPECT_NE(all.find("\"max_connections\":100,"), std::string::npos) << "from the config file";
  // The database's call keys were made with the data directory's secret: started with another
  // one, the server refuses (every buyer's key would be wrong).
  std::string other = RunCommand("timeout 20 " + std::string(CALLPOST_BINARY) +
                                     " serve --listen 127.0.0.1:0 --data-dir " + dir.path() +
                                     " --secret another-secret-of-forty-characters-000000 2>&1",
                                 &status);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << other;
  EXPECT_NE(other.find("call-key secret"), std::string::npos) << other;
}

}  // namespace
}  // namespace testing_harness

// The command line: `callpost accounts create`, `callpost --help`, and `callpost serve` with a
// graceful stop on SIGTERM, run as a real process.
#include <gtest/gtest.h>
#include <signal.h>
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

TEST(Cli, HelpAndAccountsCreate) {
  TempDir dir;
  int status = 0;
  std::string help = RunCommand(std::string(CALLPOST_BINARY) + " serve --help", &status);
  EXPECT_EQ(status, 0);
  for (const char* flag : {"--listen", "--data-dir", "--database", "--public-url",
                           "--allow-private-webhooks", "CALLPOST_LISTEN"}) {
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
  // A flag wins over the environment.
  TempDir other;
  RunCommand("CALLPOST_DATA_DIR=" + other.path() + " " + CALLPOST_BINARY +
                 " accounts create --name b --data-dir " + dir.path(),
             &status);
  EXPECT_EQ(status, 0);
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/callpost.db"));
  EXPECT_FALSE(std::filesystem::exists(other.path() + "/callpost.db"));
}

TEST(Cli, ServeStopsGracefullyOnSigterm) {
  TempDir dir;
  int status = 0;
  std::string out = RunCommand(
      std::string(CALLPOST_BINARY) + " accounts create --name a --data-dir " + dir.path(), &status);
  std::string key(json::parse(out).at("api_key").as_string());
  // Find a free port by binding port 0 through a short-lived server.
  uint16_t port;
  {
    Server probe;
    port = probe.app().port();
  }
  pid_t pid = fork();
  if (pid == 0) {
    // Options come from a config file and the environment as well as flags.
    std::string config = dir.path() + "/callpost.toml";
    std::ofstream(config) << "[serve]\nlisten = \"127.0.0.1:" << port << "\"\n";
    std::string log = dir.path() + "/serve.log";
    freopen(log.c_str(), "w", stderr);
    setenv("CALLPOST_DATA_DIR", dir.path().c_str(), 1);
    execl(CALLPOST_BINARY, CALLPOST_BINARY, "--config", config.c_str(), "serve", nullptr);
    _exit(127);
  }
  std::string url = "http://127.0.0.1:" + std::to_string(port);
  HttpResponse health;
  for (int i = 0; i < 400; ++i) {
    usleep(50'000);  // waiting for a process to start listening, not for a timer
    health = TryHttp("GET", url + "/healthz");
    if (health.status == 200) break;
  }
  ASSERT_EQ(health.status, 200);
  HttpResponse created =
      Http("POST", url + "/api/v1/publishers", R"({"name":"P"})", {"Authorization: Bearer " + key});
  EXPECT_EQ(created.status, 201) << created.body;
  kill(pid, SIGTERM);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  EXPECT_TRUE(WIFEXITED(wstatus));
  EXPECT_EQ(WEXITSTATUS(wstatus), 0);
  std::ifstream log(dir.path() + "/serve.log");
  std::string line, all;
  while (std::getline(log, line)) {
    all += line + "\n";
    EXPECT_EQ(line.find(key), std::string::npos) << "an API key reached the log";
    json::error_code ec;
    json::parse(line, ec);
    EXPECT_FALSE(ec) << "log lines are JSON: " << line;
  }
  EXPECT_NE(all.find("\"stopped\""), std::string::npos) << all;
}

}  // namespace
}  // namespace testing_harness

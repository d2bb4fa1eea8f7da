// TLS termination (issue 11 part 4): a throwaway CA and server certificates made with the `openssl`
// CLI; the server is reached over TLS with a Beast ssl_stream client (verifying the chain and the
// name) and with `curl --cacert`; TLS below 1.2 is refused; the redirect port answers 308 to https;
// SIGHUP reloads the certificate while an open connection keeps working.
#include <doctest/doctest.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "security/raw_socket.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_app.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using namespace std::chrono_literals;

namespace {

std::string run(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[512];
    while (auto n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    ::pclose(p);
    return out;
}

/// curl is part of the CI image and of scripts/setup.sh; without it the curl checks are skipped.
bool have_curl() {
    static const bool found = run("curl --version").rfind("curl ", 0) == 0;
    if (!found) MESSAGE("curl not installed: its checks are skipped");
    return found;
}

/// A throwaway CA, and server certificates for 127.0.0.1 / localhost signed by it.
struct Pki {
    lt::test::TempDir dir{"tls-pki"};
    std::string ca = (dir.path() / "ca.pem").string();
    std::string cert = (dir.path() / "server.pem").string();
    std::string key = (dir.path() / "server.key").string();

    Pki() {
        const auto d = dir.path().string();
        run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj '/CN=Leaky Test CA' "
            "-keyout " + d + "/ca.key -out " + ca);
        issue("server-one", cert, key);
        REQUIRE(std::ifstream(cert).good());
        REQUIRE(std::ifstream(key).good());
    }
    /// A certificate with common name `cn` into `cert_file` / `key_file`.
    void issue(const std::string& cn, const std::string& cert_file, const std::string& key_file) {
        const auto d = dir.path().string();
        std::ofstream(d + "/ext.cnf") << "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                                         "extendedKeyUsage=serverAuth\n";
        run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj '/CN=" + cn + "' -keyout " +
            key_file + ".new -out " + d + "/server.csr");
        run("openssl x509 -req -in " + d + "/server.csr -CA " + ca + " -CAkey " + d + "/ca.key -CAcreateserial -days 2 "
            "-extfile " + d + "/ext.cnf -out " + cert_file + ".new");
        // Both files replaced at once (rename), as a deployment would.
        std::filesystem::rename(key_file + ".new", key_file);
        std::filesystem::rename(cert_file + ".new", cert_file);
    }
};

/// A keep-alive HTTPS connection verifying the server against `ca` and the name 127.0.0.1.
class TlsClient {
public:
    TlsClient(std::uint16_t port, const std::string& ca, int max_version = 0)
        : ctx_(client_context(ca, max_version)), stream_(io_, ctx_) {
        stream_.set_verify_callback(ssl::host_name_verification("127.0.0.1"));
        beast::get_lowest_layer(stream_).connect({asio::ip::make_address("127.0.0.1"), port});
        beast::get_lowest_layer(stream_).expires_after(5s);
        stream_.handshake(ssl::stream_base::client, error);
    }
    boost::system::error_code error;

    bhttp::response<bhttp::string_body> get(const std::string& target) {
        bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
        req.set(bhttp::field::host, "127.0.0.1");
        bhttp::write(stream_, req);
        bhttp::response<bhttp::string_body> res;
        beast::flat_buffer buf;
        bhttp::read(stream_, buf, res);
        return res;
    }
    std::string peer_cn() {
        X509* cert = SSL_get1_peer_certificate(stream_.native_handle());
        if (!cert) return {};
        char cn[256] = {};
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
        X509_free(cert);
        return cn;
    }
    std::string version() { return SSL_get_version(stream_.native_handle()); }

private:
    /// Configured before the stream exists (an SSL object copies its context's settings).
    static ssl::context client_context(const std::string& ca, int max_version) {
        ssl::context ctx{ssl::context::tls_client};
        ctx.load_verify_file(ca);
        ctx.set_verify_mode(ssl::verify_peer);
        if (max_version) SSL_CTX_set_max_proto_version(ctx.native_handle(), max_version);
        return ctx;
    }
    asio::io_context io_;
    ssl::context ctx_;
    beast::ssl_stream<beast::tcp_stream> stream_;
};

std::vector<std::string> tls_settings(const Pki& pki, std::vector<std::string> extra = {}) {
    std::vector<std::string> s{"server.ssl.enabled=true", "server.ssl.certificate=" + pki.cert,
                               "server.ssl.certificate-private-key=" + pki.key};
    for (auto& e : extra) s.push_back(std::move(e));
    return s;
}

}  // namespace

TEST_CASE("The server answers over TLS 1.2+ to a verifying client and to curl --cacert") {
    Pki pki;
    lt::test::TestApp app(tls_settings(pki));
    TlsClient c(app.port(), pki.ca);
    REQUIRE_MESSAGE(!c.error, c.error.message());
    auto res = c.get("/actuator/health");
    CHECK(res.result_int() == 200);
    CHECK(res[bhttp::field::strict_transport_security] == "max-age=31536000; includeSubDomains");
    CHECK((c.version() == "TLSv1.3" || c.version() == "TLSv1.2"));
    CHECK(c.get("/actuator/health/liveness").result_int() == 200);  // keep-alive over TLS
    CHECK(c.peer_cn() == "server-one");

    if (!have_curl()) return;
    auto curl = run("curl -sS --max-time 5 --cacert " + pki.ca + " -o /dev/null -w '%{http_code}' https://127.0.0.1:" +
                    std::to_string(app.port()) + "/actuator/health");
    CHECK(curl == "200");
    auto tls12 = run("curl -sS --max-time 5 --tlsv1.2 --tls-max 1.2 --cacert " + pki.ca +
                     " -o /dev/null -w '%{http_code}' https://127.0.0.1:" + std::to_string(app.port()) +
                     "/actuator/health");
    CHECK(tls12 == "200");
}

TEST_CASE("TLS 1.1, an unknown CA and plaintext HTTP on the TLS port are refused and the server keeps serving") {
    Pki pki;
    lt::test::TestApp app(tls_settings(pki));
    TlsClient old(app.port(), pki.ca, TLS1_1_VERSION);
    CHECK(old.error);
    Pki other;  // a different CA
    TlsClient stranger(app.port(), other.ca);
    CHECK(stranger.error);
    lt::test::RawSocket plain(app.port());
    REQUIRE(plain.ok());
    REQUIRE(plain.send("GET /actuator/health HTTP/1.1\r\nHost: x\r\n\r\n"));
    bool closed = false;
    auto bytes = plain.read_all(3000ms, closed);
    CHECK(closed);
    CHECK(bytes.find("HTTP/1.1 200") == std::string::npos);
    TlsClient good(app.port(), pki.ca);
    REQUIRE_FALSE(good.error);
    CHECK(good.get("/actuator/health").result_int() == 200);
}

TEST_CASE("The redirect port answers 308 to the same target over https") {
    Pki pki;
    auto redirect = lt::test::free_port();
    lt::test::TestApp app(tls_settings(pki, {"server.ssl.redirect-http-port=" + std::to_string(redirect)}));
    auto r = lt::test::http_call(redirect, "GET", "/api/v1/tokens/status?x=1");
    CHECK(r.status == 308);
    CHECK(r.header("location") == "https://127.0.0.1:" + std::to_string(app.port()) + "/api/v1/tokens/status?x=1");
    if (!have_curl()) return;
    auto followed = run("curl -sS -L --max-time 5 --cacert " + pki.ca + " -o /dev/null -w '%{http_code}' http://127.0.0.1:" +
                        std::to_string(redirect) + "/actuator/health");
    CHECK(followed == "200");
}

TEST_CASE("SIGHUP reloads the certificate: new handshakes get the new one and an open connection keeps working") {
    Pki pki;
    lt::app::AppOptions options;
    options.handle_signals = true;
    lt::test::TestApp app(tls_settings(pki), options);
    TlsClient before(app.port(), pki.ca);
    REQUIRE_FALSE(before.error);
    CHECK(before.peer_cn() == "server-one");
    CHECK(before.get("/actuator/health").result_int() == 200);

    pki.issue("server-two", pki.cert, pki.key);
    std::raise(SIGHUP);
    std::string cn;
    for (int i = 0; i < 40 && cn != "server-two"; ++i) {
        std::this_thread::sleep_for(50ms);
        TlsClient fresh(app.port(), pki.ca);
        REQUIRE_FALSE(fresh.error);
        cn = fresh.peer_cn();
    }
    CHECK(cn == "server-two");
    CHECK(before.get("/actuator/health").result_int() == 200);  // not dropped
    CHECK(before.peer_cn() == "server-one");

    // A broken file on reload keeps the current pair.
    std::ofstream(pki.key) << "not a key";
    std::raise(SIGHUP);
    std::this_thread::sleep_for(300ms);
    TlsClient after(app.port(), pki.ca);
    REQUIRE_FALSE(after.error);
    CHECK(after.peer_cn() == "server-two");
    CHECK(after.get("/actuator/health").result_int() == 200);
}

TEST_CASE("TLS enabled without a usable certificate refuses to start") {
    lt::config::LoadOptions load;
    load.read_env = false;
    lt::test::TempDir dir("tls-bad");
    load.overrides = {"server.port=0", "server.address=127.0.0.1", "storage.data-dir=" + dir.path().string(),
                      "log.level=off", "server.ssl.enabled=true",
                      "server.ssl.certificate=" + (dir.path() / "missing.pem").string(),
                      "server.ssl.certificate-private-key=" + (dir.path() / "missing.key").string()};
    auto cfg = lt::config::load(lt::app::full_schema(), load);
    REQUIRE(cfg);
    bool refused = false;
    try {
        auto a = lt::app::App::create(std::move(*cfg), {});
        if (!a) {
            refused = true;
        } else {
            auto started = (*a)->start();
            refused = !started;
            (*a)->shutdown();
            (*a)->wait();
        }
    } catch (const std::exception& e) {
        MESSAGE("refused: " << e.what());
        refused = true;
    }
    CHECK(refused);
}

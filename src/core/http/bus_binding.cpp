#include "lt/http/bus_binding.hpp"

#include <exception>

#include "lt/http/errors.hpp"

namespace asio = boost::asio;

namespace lt::http {

std::string http_command(std::string_view owner) { return std::string(owner) + ".http.v1"; }

namespace {
/// Collects a streamed body: a streamed Response crossing the bus arrives buffered (whole) instead.
class BufferWriter final : public BodyWriter {
public:
    explicit BufferWriter(std::string& out) : out_(out) {}
    asio::awaitable<bool> write(std::string_view chunk) override {
        out_.append(chunk);
        co_return true;
    }
    bool disconnected() const override { return false; }

private:
    std::string& out_;
};

asio::awaitable<Result<json::value>> run_route(const Router* router, std::string owner, bus::Message msg) {
    auto req = request_from_json(msg.body);
    if (!req) co_return fail(req.error());
    req->ctx = std::move(msg.ctx);
    std::string_view method = req->method == "HEAD" ? std::string_view("GET") : std::string_view(req->method);
    const Route* route = router->find(method, req->route);
    if (!route || route->owner != owner) {
        co_return to_json(error_response(404, "not found", req->path));
    }
    std::string path = req->path;
    Response res;
    try {
        auto op = route->handler(std::move(*req));
        res = co_await std::move(op);
    } catch (const std::exception& e) {
        res = error_response(500, "internal error", path);
    }
    if (res.stream) {
        std::string body;
        BufferWriter writer(body);
        auto producer = std::move(res.stream);
        res.stream = nullptr;
        try {
            auto op = producer(writer);
            co_await std::move(op);
            res.body = std::move(body);
        } catch (const std::exception& e) {
            res = error_response(500, "internal error", path);
        }
    }
    co_return to_json(res);
}
}  // namespace

void serve_routes_over_bus(bus::Bus& bus, const Router& router, std::string owner) {
    const Router* r = &router;
    bus.handle(http_command(owner), [r, owner](bus::Message m) { return run_route(r, owner, std::move(m)); });
}

}  // namespace lt::http

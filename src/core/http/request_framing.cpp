#include "request_framing.hpp"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <vector>

namespace lt::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

std::string lower_trim(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    std::string out(v);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

std::size_t header_end(const beast::flat_buffer& b) {
    std::string_view d{static_cast<const char*>(b.data().data()), b.size()};
    return d.find("\r\n\r\n");
}

bool has_obs_fold(const beast::flat_buffer& b) {
    std::string_view d{static_cast<const char*>(b.data().data()), b.size()};
    auto end = d.find("\r\n\r\n");
    if (end == std::string_view::npos) return false;
    d = d.substr(0, end + 2);
    return d.find("\n ") != std::string_view::npos || d.find("\n\t") != std::string_view::npos;
}

std::pair<int, std::string> framing_error(const bhttp::request<bhttp::string_body>& m, bool folded) {
    if (folded) return {400, "obsolete line folding in header"};
    if (m.version() >= 11 && m.count(bhttp::field::host) != 1) return {400, "exactly one Host header required"};
    if (m.count(bhttp::field::transfer_encoding) == 0) return {0, {}};
    if (m.count(bhttp::field::content_length) != 0) return {400, "Transfer-Encoding with Content-Length"};
    std::vector<std::string> codings;
    for (const auto& f : m) {  // every Transfer-Encoding line, in order (they need not be adjacent)
        if (f.name() != bhttp::field::transfer_encoding) continue;
        std::string_view v{f.value().data(), f.value().size()};
        for (;;) {
            auto comma = v.find(',');
            auto item = lower_trim(v.substr(0, comma));
            if (!item.empty()) codings.push_back(item.substr(0, item.find(';')));
            if (comma == std::string_view::npos) break;
            v.remove_prefix(comma + 1);
        }
    }
    for (auto& c : codings) c = lower_trim(c);
    if (codings.empty() || codings.back() != "chunked") return {400, "final transfer coding is not chunked"};
    if (std::count(codings.begin(), codings.end(), "chunked") > 1) return {400, "chunked applied more than once"};
    if (codings.size() > 1) return {501, "transfer coding not implemented"};  // only chunked is
    return {0, {}};
}

}  // namespace lt::http

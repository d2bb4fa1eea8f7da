#include "stub_completion.hpp"

#include <algorithm>
#include <array>
#include <string>

#include <boost/json.hpp>

#include "lt/core/time.hpp"

namespace lt::providers {

namespace {
constexpr std::array<std::string_view, 12> kWords{"This", "is",   "a",     "simulated", "answer", "from",
                                                  "the",  "stub", "model", "of",        "Leaky",  "Tokens"};

std::uint64_t fnv(std::uint64_t h, std::string_view text) {
    for (unsigned char c : text) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    return h;
}
}  // namespace

std::string message_text(const boost::json::value& content) {
    if (content.is_string()) return std::string(content.as_string());
    if (content.is_null()) return {};
    if (content.is_array()) {
        std::string out;
        for (const auto& part : content.as_array()) {
            const auto* o = part.if_object();
            const auto* text = o ? o->if_contains("text") : nullptr;
            if (text && text->is_string()) out += text->as_string();
            else out += boost::json::serialize(part);
        }
        return out;
    }
    return boost::json::serialize(content);
}

long long stub_prompt_tokens(const boost::json::array& messages) {
    long long total = 3;
    for (const auto& m : messages) {
        const auto* o = m.if_object();
        std::size_t bytes = 0;
        if (o) {
            if (auto* r = o->if_contains("role"); r && r->is_string()) bytes += r->as_string().size();
            if (auto* c = o->if_contains("content")) bytes += message_text(*c).size();
        }
        total += static_cast<long long>((bytes + 3) / 4) + 3;
    }
    return total;
}

CompletionReply stub_completion(const ProviderSettings& s, const CompletionRequest& request,
                                std::chrono::system_clock::time_point now, double fail_draw) {
    const auto& messages = request.messages;
    std::uint64_t h = 1469598103934665603ULL;
    for (const auto& m : messages) {
        if (const auto* o = m.if_object()) {
            if (auto* c = o->if_contains("content")) h = fnv(h, message_text(*c));
        }
    }
    long long natural = 8 + static_cast<long long>(h % 25);
    long long limit = request.max_tokens > 0 ? request.max_tokens : natural;
    long long completion = std::min(natural, limit);

    CompletionReply out;
    out.id = "chatcmpl-" + new_uuid();
    out.created = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    out.model = request.model.empty() ? std::string("stub") : request.model;
    out.provider = request.provider;
    out.finish_reason = completion < natural ? "length" : "stop";
    out.prompt_tokens = stub_prompt_tokens(messages);
    out.completion_tokens = completion;
    out.chunk_delay_ms = s.stream_delay.count();

    // One word per token; the stream splits them into at most stream.chunks chunks.
    long long chunks = std::max<long long>(1, std::min(s.stream_chunks, completion));
    long long word = 0;
    for (long long i = 0; i < chunks; ++i) {
        long long n = completion / chunks + (i < completion % chunks ? 1 : 0);
        std::string piece;
        for (long long k = 0; k < n; ++k, ++word) {
            if (word > 0) piece += ' ';
            piece += kWords[static_cast<std::size_t>(word) % kWords.size()];
        }
        out.content += piece;
        out.chunks.push_back(CompletionChunk{std::move(piece), n});
    }
    if (s.stream_failure_rate > 0 && fail_draw < s.stream_failure_rate) {
        // Mid-stream: after at least one chunk when there are several.
        long long fail_at = chunks > 1
                                ? 1 + static_cast<long long>(fail_draw / s.stream_failure_rate * static_cast<double>(chunks - 1))
                                : 0;
        out.fail_at_chunk = std::min(fail_at, chunks - 1);
    }
    return out;
}

}  // namespace lt::providers

import Base
@testable import Datasets
import Tensor
import XCTest

/// The PNG fast path (png_fast.c: libdeflate inflate, own unfiltering) against the pixels a PNG
/// was written from and against libpng, on PNGs written here with a chosen filter type per row
/// (libpng's encoder picks filters itself, so that some row/filter/pixel-size combinations would
/// go untested), as whole images, as segment ids and row by row.
final class PNGFastPathTests: XCTestCase {
    // MARK: a PNG writer with chosen filters

    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be32(UInt32(data.count)) + body + be32(crc32(body))
    }

    static func paeth(_ a: Int, _ b: Int, _ c: Int) -> Int {
        let p = a + b - c
        let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
        return pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
    }

    /// An 8-bit PNG (channels 1 gray, 3 RGB, 4 RGBA) with row y filtered by `filters(y)`, the
    /// zlib stream made of stored blocks of at most `block` bytes, split into IDAT chunks of at
    /// most `idat` bytes.
    static func png(_ pixels: [UInt8], width: Int, height: Int, channels: Int, filters: (Int) -> UInt8,
                    block: Int = 65535, idat: Int = 1 << 20) -> [UInt8] {
        let stride = width * channels
        var raw: [UInt8] = []
        for y in 0..<height {
            let type = filters(y)
            raw.append(type)
            for i in 0..<stride {
                let x = Int(pixels[y * stride + i])
                let a = i >= channels ? Int(pixels[y * stride + i - channels]) : 0
                let b = y > 0 ? Int(pixels[(y - 1) * stride + i]) : 0
                let c = y > 0 && i >= channels ? Int(pixels[(y - 1) * stride + i - channels]) : 0
                let pred: Int
                switch type {
                case 0: pred = 0
                case 1: pred = a
                case 2: pred = b
                case 3: pred = (a + b) / 2
                default: pred = paeth(a, b, c)
                }
                raw.append(UInt8(truncatingIfNeeded: x - pred))
            }
        }
        var z: [UInt8] = [0x78, 0x01]
        var start = 0
        repeat {
            let n = min(block, raw.count - start)
            let last = start + n == raw.count
            z.append(last ? 1 : 0)
            z += [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            z += raw[start..<(start + n)]
            start += n
        } while start < raw.count
        var s1: UInt32 = 1, s2: UInt32 = 0
        for b in raw {
            s1 = (s1 + UInt32(b)) % 65521
            s2 = (s2 + s1) % 65521
        }
        z += be32(s2 << 16 | s1)
        let colorType: UInt8 = channels == 1 ? 0 : (channels == 3 ? 2 : 6)
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        out += chunk("IHDR", be32(UInt32(width)) + be32(UInt32(height)) + [8, colorType, 0, 0, 0])
        var k = 0
        repeat {
            let n = min(idat, z.count - k)
            out += chunk("IDAT", Array(z[k..<(k + n)]))
            k += n
        } while k < z.count
        out += chunk("IEND", [])
        return out
    }

    // MARK: images

    /// Random bytes, or (flat) a segment-map-like image: a few colours in discs and bars, so that
    /// most pixels equal their neighbours (the fast path's shortcuts) with curved boundaries.
    static func pixels(width: Int, height: Int, channels: Int, flat: Bool, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        if !flat { return (0..<(width * height * channels)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
        let palette: [[UInt8]] = (0..<5).map { _ in (0..<channels).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
        let cx = Double(rng.next() % UInt64(max(width, 1))), cy = Double(rng.next() % UInt64(max(height, 1)))
        let r = Double(1 + rng.next() % UInt64(max(width, height)))
        var out: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                let d = ((Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)).squareRoot()
                var k = y % 7 == 0 ? 4 : 0
                if x * 3 < width { k = 3 }
                if d < 1.6 * r { k = 2 }
                if d < r { k = 1 }
                out += palette[k]
            }
        }
        return out
    }

    static func expectedRGB(_ px: [UInt8], channels: Int) -> [UInt8] {
        switch channels {
        case 1: return px.flatMap { [$0, $0, $0] }
        case 3: return px
        default:
            var out: [UInt8] = []
            for i in stride(from: 0, to: px.count, by: 4) { out += px[i..<(i + 3)] }
            return out
        }
    }

    static func expectedIDs(_ px: [UInt8], channels: Int) -> [UInt32] {
        if channels == 1 { return px.map { UInt32($0) } }
        return stride(from: 0, to: px.count, by: channels).map { (i: Int) -> UInt32 in
            let r = UInt32(px[i]), g = UInt32(px[i + 1]), b = UInt32(px[i + 2])
            return r | g << 8 | b << 16
        }
    }

    func check(_ bytes: [UInt8], width: Int, height: Int, channels: Int, pixels: [UInt8], _ what: String) throws {
        let rgb = Self.expectedRGB(pixels, channels: channels)
        guard let fast = ImageIO.decodePNGFast(bytes) else { return XCTFail("\(what): fast path refused the file") }
        XCTAssertEqual(fast.width, width, what)
        XCTAssertEqual(fast.height, height, what)
        XCTAssertEqual(fast.pixels, rgb, "\(what): fast path RGB")
        XCTAssertEqual(try ImageIO.decodeWithLibrary(bytes, format: .png, path: what).pixels, rgb, "\(what): libpng")
        let ids = Self.expectedIDs(pixels, channels: channels)
        XCTAssertEqual(ImageIO.decodePNGSegmentIDs(bytes)?.ids, ids, "\(what): ids")
        let reader = PNGSegmentRowReader()
        let size = bytes.withUnsafeBufferPointer { reader.begin($0) }
        XCTAssertTrue(size.map { $0 == (width, height) } ?? false, "\(what): row reader size")
        var rows: [UInt32] = []
        var row = [UInt32](repeating: 0, count: width)
        for _ in 0..<height {
            XCTAssertTrue(row.withUnsafeMutableBufferPointer { reader.nextRow(into: $0.baseAddress!) }, what)
            rows += row
        }
        XCTAssertEqual(rows, ids, "\(what): rows")
        XCTAssertFalse(row.withUnsafeMutableBufferPointer { reader.nextRow(into: $0.baseAddress!) }, "\(what): past the last row")
    }

    // MARK: tests

    func testEveryFilterAndPixelSize_MatchesTheWrittenPixels() throws {
        var seed: UInt64 = 1
        var rng = SplitMix64(seed: 99)
        let randomFilters = (0..<64).map { _ in UInt8(rng.next() % 5) }
        let patterns: [(String, (Int) -> UInt8)] = [
            ("none", { _ in 0 }), ("sub", { _ in 1 }), ("up", { _ in 2 }), ("average", { _ in 3 }),
            ("paeth", { _ in 4 }), ("cycle", { UInt8($0 % 5) }), ("random", { randomFilters[$0 % 64] }),
        ]
        for channels in [1, 3, 4] {
            for (w, h) in [(1, 1), (2, 3), (3, 2), (5, 9), (17, 6), (64, 9)] {
                for flat in [false, true] {
                    let px = Self.pixels(width: w, height: h, channels: channels, flat: flat, seed: seed)
                    seed += 1
                    for (name, filters) in patterns {
                        let bytes = Self.png(px, width: w, height: h, channels: channels, filters: filters)
                        try check(bytes, width: w, height: h, channels: channels, pixels: px,
                                  "\(w)x\(h)x\(channels) \(flat ? "flat" : "random") \(name)")
                    }
                }
            }
        }
    }

    func testSplitStreams_AndLibpngWrittenFiles() throws {
        // Many stored blocks across many IDAT chunks.
        let px = Self.pixels(width: 40, height: 30, channels: 3, flat: true, seed: 7)
        let split = Self.png(px, width: 40, height: 30, channels: 3, filters: { UInt8($0 % 5) }, block: 100, idat: 37)
        try check(split, width: 40, height: 30, channels: 3, pixels: px, "split")
        // libpng's own choice of filters and real compression.
        for (channels, flat) in [(1, true), (3, true), (3, false), (4, true)] {
            let p = Self.pixels(width: 91, height: 57, channels: channels, flat: flat, seed: UInt64(channels))
            let bytes = try ImageIO.encodePNG(pixels: p, width: 91, height: 57, channels: channels)
            try check(bytes, width: 91, height: 57, channels: channels, pixels: p, "libpng-written \(channels) \(flat)")
        }
    }

    func testRowRuns_AreTheRunsOfEqualIDPairs() throws {
        // Flat pairs (long runs: the five-pixel skip of RGB pairs) and random ones, of every
        // pixel-size combination; width 1 and widths that end inside a five-pixel block.
        var seed: UInt64 = 500
        for (gc, pc) in [(3, 3), (1, 3), (3, 4), (4, 4), (1, 1)] {
            for (w, h) in [(1, 4), (6, 5), (64, 9), (203, 7)] {
                for flat in [true, false] {
                    let gp = Self.pixels(width: w, height: h, channels: gc, flat: flat, seed: seed)
                    var pp = Self.pixels(width: w, height: h, channels: pc, flat: true, seed: seed + 1)
                    if flat && gc == pc { pp = gp.enumerated().map { $0.offset < gp.count / 3 ? $0.element : pp[$0.offset] } }
                    seed += 2
                    let g = Self.png(gp, width: w, height: h, channels: gc, filters: { UInt8($0 % 5) })
                    let p = Self.png(pp, width: w, height: h, channels: pc, filters: { UInt8(4 - $0 % 5) })
                    let gi = Self.expectedIDs(gp, channels: gc), pi = Self.expectedIDs(pp, channels: pc)
                    let gr = PNGSegmentRowReader(), pr = PNGSegmentRowReader()
                    XCTAssertNotNil(g.withUnsafeBufferPointer { gr.begin($0) })
                    XCTAssertNotNil(p.withUnsafeBufferPointer { pr.begin($0) })
                    var keys = [UInt64](repeating: 0, count: w), lengths = [UInt32](repeating: 0, count: w)
                    for y in 0..<h {
                        var expected: [(UInt64, UInt32)] = []
                        for x in 0..<w {
                            let key = UInt64(gi[y * w + x]) << 32 | UInt64(pi[y * w + x])
                            if let last = expected.last, last.0 == key {
                                expected[expected.count - 1].1 += 1
                            } else {
                                expected.append((key, 1))
                            }
                        }
                        let n = keys.withUnsafeMutableBufferPointer { k in
                            lengths.withUnsafeMutableBufferPointer { l in gr.nextRowRuns(with: pr, keys: k.baseAddress!, lengths: l.baseAddress!) }
                        }
                        let what = "\(w)x\(h) \(gc)/\(pc) \(flat) row \(y)"
                        XCTAssertEqual(n, expected.count, what)
                        XCTAssertEqual(Array(keys.prefix(n ?? 0)), expected.map(\.0), what)
                        XCTAssertEqual(Array(lengths.prefix(n ?? 0)), expected.map(\.1), what)
                    }
                }
            }
        }
    }

    func testCorruptedFiles_AreRefusedOrDecodedAsLibpngDoes() throws {
        // Byte changes anywhere (CRCs then catch them) and inside the zlib stream with the
        // IDAT CRC recomputed (inflate, adler32 and filter types catch them): what the fast
        // path accepts must be what libpng gives, and nothing may trap.
        let px = Self.pixels(width: 23, height: 11, channels: 3, flat: true, seed: 11)
        let good = Self.png(px, width: 23, height: 11, channels: 3, filters: { UInt8($0 % 5) })
        let real = try ImageIO.encodePNG(pixels: px, width: 23, height: 11, channels: 3)
        var rng = SplitMix64(seed: 4)
        var accepted = 0
        for base in [good, real] {
            XCTAssertEqual(Array(base[37..<41]), Array("IDAT".utf8), "the IDAT chunk follows IHDR")
            let idatLength = Int(base[33]) << 24 | Int(base[34]) << 16 | Int(base[35]) << 8 | Int(base[36])
            for trial in 0..<600 {
                var b = base
                if trial % 2 == 0 {
                    b[Int(rng.next() % UInt64(b.count))] ^= UInt8(1 + rng.next() % 255)
                } else {
                    // IDAT data at 41..<41+len; its CRC follows.
                    b[41 + Int(rng.next() % UInt64(idatLength))] ^= UInt8(1 + rng.next() % 255)
                    let crc = Self.be32(Self.crc32(Array(b[37..<(41 + idatLength)])))
                    b.replaceSubrange((41 + idatLength)..<(45 + idatLength), with: crc)
                }
                let fast = ImageIO.decodePNGFast(b)
                let reader = PNGSegmentRowReader()
                if let size = b.withUnsafeBufferPointer({ reader.begin($0) }) {
                    var row = [UInt32](repeating: 0, count: size.width)
                    for _ in 0..<size.height { _ = row.withUnsafeMutableBufferPointer { reader.nextRow(into: $0.baseAddress!) } }
                }
                guard let fast else { continue }
                accepted += 1
                XCTAssertEqual(fast, try? ImageIO.decodeWithLibrary(b, format: .png, path: "c.png"), "trial \(trial)")
            }
        }
        XCTAssertLessThan(accepted, 60, "most corruptions are caught")
    }

    func testBadFilterType_GoesToLibpngWhichReportsIt() throws {
        let px = Self.pixels(width: 8, height: 4, channels: 3, flat: true, seed: 3)
        let bytes = Self.png(px, width: 8, height: 4, channels: 3, filters: { $0 == 2 ? 5 : 1 })
        XCTAssertNil(ImageIO.decodePNGFast(bytes))
        XCTAssertNil(ImageIO.decodePNGSegmentIDs(bytes))
        XCTAssertThrowsError(try ImageIO.decode(bytes, path: "bad-filter.png")) {
            XCTAssertTrue("\($0)".contains("bad-filter.png"), "\($0)")
        }
        let reader = PNGSegmentRowReader()
        XCTAssertNotNil(bytes.withUnsafeBufferPointer { reader.begin($0) })
        var row = [UInt32](repeating: 0, count: 8)
        let ok = (0..<3).map { _ in row.withUnsafeMutableBufferPointer { reader.nextRow(into: $0.baseAddress!) } }
        XCTAssertEqual(ok, [true, true, false])
        // A reader whose begin failed gives no rows (even after an earlier image).
        let bad = Array(bytes.prefix(60))
        XCTAssertNil(bad.withUnsafeBufferPointer { reader.begin($0) })
        XCTAssertFalse(row.withUnsafeMutableBufferPointer { reader.nextRow(into: $0.baseAddress!) })
        // A flipped CRC byte: refused by the fast path.
        var crc = Self.png(px, width: 8, height: 4, channels: 3, filters: { _ in 4 })
        crc[crc.count - 20] ^= 1
        XCTAssertNil(ImageIO.decodePNGFast(crc))
    }
}

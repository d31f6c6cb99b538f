#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Numbers and literals of JSONScanner: correctly rounded doubles without allocation.
extension JSONScanner {
    /// 10^e for 0 <= e <= 22, all exact doubles (a switch: no global array, no lazy-init check).
    @inline(__always)
    static func powerOfTen(_ e: Int) -> Double {
        switch e {
        case 0: return 1
        case 1: return 1e1
        case 2: return 1e2
        case 3: return 1e3
        case 4: return 1e4
        case 5: return 1e5
        case 6: return 1e6
        case 7: return 1e7
        case 8: return 1e8
        case 9: return 1e9
        case 10: return 1e10
        case 11: return 1e11
        case 12: return 1e12
        case 13: return 1e13
        case 14: return 1e14
        case 15: return 1e15
        case 16: return 1e16
        case 17: return 1e17
        case 18: return 1e18
        case 19: return 1e19
        case 20: return 1e20
        case 21: return 1e21
        default: return 1e22
        }
    }

    /// Reads a number (also `NaN`, `Infinity`, `-Infinity`) as the correctly rounded double.
    public mutating func readDouble() throws -> Double {
        skipWhitespace()
        let start = position
        var negative = false
        if position < end && base[position] == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        guard position < end else { throw error("expected a number, found end of file") }
        let first = base[position]
        if first == UInt8(ascii: "N") || first == UInt8(ascii: "I") {
            if !negative, matchLiteral("NaN") { return .nan }
            if matchLiteral("Infinity") { return negative ? -.infinity : .infinity }
            position = start
            throw error("expected a number, found \(describeCurrent())")
        }
        var mantissa: UInt64 = 0
        var digits = 0          // significant digits accumulated in `mantissa`
        var dropped = 0         // integer digits beyond 19 (not in the mantissa)
        var exponent = 0
        var sawDigit = false
        // integer part
        while position < end {
            let d = base[position] &- UInt8(ascii: "0")
            if d > 9 { break }
            sawDigit = true
            if digits < 19 {
                mantissa = mantissa &* 10 &+ UInt64(d)
                if mantissa != 0 { digits += 1 }
            } else {
                dropped += 1
            }
            position += 1
        }
        guard sawDigit else {
            position = start
            throw error("expected a number, found \(describeCurrent())")
        }
        exponent = dropped
        var exact = dropped == 0
        if position < end && base[position] == UInt8(ascii: ".") {
            position += 1
            var fractionDigits = false
            while position < end {
                let d = base[position] &- UInt8(ascii: "0")
                if d > 9 { break }
                fractionDigits = true
                if digits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(d)
                    if mantissa != 0 { digits += 1 }
                    exponent -= 1
                } else if d != 0 {
                    exact = false
                }
                position += 1
            }
            guard fractionDigits else { throw error("expected digits after '.'") }
        }
        if position < end && (base[position] | 0x20) == UInt8(ascii: "e") {
            position += 1
            var expNegative = false
            if position < end && (base[position] == UInt8(ascii: "-") || base[position] == UInt8(ascii: "+")) {
                expNegative = base[position] == UInt8(ascii: "-")
                position += 1
            }
            var e = 0
            var expDigits = false
            while position < end {
                let d = base[position] &- UInt8(ascii: "0")
                if d > 9 { break }
                expDigits = true
                if e < 100_000 { e = e * 10 + Int(d) }
                position += 1
            }
            guard expDigits else { throw error("expected digits in an exponent") }
            exponent += expNegative ? -e : e
        }
        if exact && mantissa <= (1 << 53) && exponent >= -22 && exponent <= 22 {
            var v = Double(mantissa)
            if exponent < 0 { v /= Self.powerOfTen(-exponent) } else if exponent > 0 { v *= Self.powerOfTen(exponent) }
            return negative ? -v : v
        }
        return slowDouble(from: start, to: position)
    }

    /// strtod on a NUL-terminated copy of the number's text.
    func slowDouble(from start: Int, to stop: Int) -> Double {
        var text = [CChar](repeating: 0, count: stop - start + 1)
        for i in 0..<(stop - start) { text[i] = CChar(bitPattern: base[start + i]) }
        return strtod(text, nil)
    }

    mutating func matchLiteral(_ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard position + n <= end else { return false }
        let p = literal.utf8Start
        for i in 0..<n where base[position + i] != p[i] { return false }
        position += n
        return true
    }

    /// Reads an integer; an integral number written as a float (`3.0`, `1e3`) is accepted.
    public mutating func readInt64() throws -> Int64 {
        let start = position
        let v = try readDouble()
        guard let i = Self.exactInteger(v) else {
            throw error("expected an integer, found \(v)", at: start)
        }
        return i
    }

    /// `v` as an integer when it is one (finite, integral, within Int64): readInt64's rule.
    public static func exactInteger(_ v: Double) -> Int64? {
        v.isFinite && v == v.rounded() && abs(v) < 9.2e18 ? Int64(v) : nil
    }
}

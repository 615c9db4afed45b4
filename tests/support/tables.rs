//! Vertically split CSV pairs the tests make: a guest table (id, label, two features) and a host
//! table (id, three features) over partly different ids, the label a noisy linear function of
//! all five features, so a model trained on both sides learns it and neither side alone does.

/// (guest CSV, host CSV) of `rows` guest rows; the host holds the last `rows - 10` of them and
/// 10 ids the guest has not. `seed` varies the noise.
pub fn split(rows: usize, seed: u64) -> (String, String) {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    };
    let mut guest = String::from("uid,label,age,income\n");
    let mut host = String::from("uid,visits,spend,tenure\n");
    for i in 0..rows + 10 {
        let f: Vec<f64> = (0..5).map(|_| next()).collect();
        let z = 1.5 * f[0] - 1.0 * f[1] + 1.2 * f[2] + 0.8 * f[3] - 0.6 * f[4] + 0.5 * next();
        let label = u8::from(z > 0.0);
        if i < rows {
            guest.push_str(&format!("u{i},{label},{:.4},{:.4}\n", f[0], f[1]));
        }
        if i >= 10 {
            host.push_str(&format!("u{i},{:.4},{:.4},{:.4}\n", f[2], f[3], f[4]));
        }
    }
    (guest, host)
}

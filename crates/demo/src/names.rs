//! Word lists for Japanese company and person names (romaji alongside, for email addresses).

pub const COMPANY_PREFIX: &[&str] = &[
    "青葉", "さくら", "東和", "富士", "大和", "北斗", "みらい", "日本", "光", "湊", "朝日", "若葉", "新星", "白鳥",
    "千代田", "神田", "信濃", "瀬戸", "松風", "丸の内", "飛鳥", "葵", "銀河", "常盤",
];
pub const COMPANY_CORE: &[&str] = &[
    "商事", "製作所", "建設", "物流", "電機", "食品", "不動産", "システムズ", "メディカル", "印刷", "工業", "エナジー",
    "フーズ", "ロジスティクス", "ソリューションズ", "化学", "精機", "観光", "ファーマ", "テクノロジー",
];
pub const COMPANY_FORM: &[&str] = &["株式会社{}", "{}株式会社", "株式会社{}ホールディングス", "{}合同会社"];

pub const INDUSTRIES: &[&str] = &["製造", "小売", "IT・通信", "建設・不動産", "医療・福祉", "物流", "金融", "サービス", "飲食"];
pub const PREFECTURES: &[&str] =
    &["東京都", "大阪府", "神奈川県", "愛知県", "福岡県", "北海道", "埼玉県", "千葉県", "兵庫県", "京都府", "宮城県", "広島県"];

/// (kanji, romaji)
pub const SURNAMES: &[(&str, &str)] = &[
    ("佐藤", "sato"), ("鈴木", "suzuki"), ("高橋", "takahashi"), ("田中", "tanaka"), ("伊藤", "ito"),
    ("渡辺", "watanabe"), ("山本", "yamamoto"), ("中村", "nakamura"), ("小林", "kobayashi"), ("加藤", "kato"),
    ("吉田", "yoshida"), ("山田", "yamada"), ("佐々木", "sasaki"), ("山口", "yamaguchi"), ("松本", "matsumoto"),
    ("井上", "inoue"), ("木村", "kimura"), ("林", "hayashi"), ("清水", "shimizu"), ("斎藤", "saito"),
    ("山崎", "yamazaki"), ("森", "mori"), ("池田", "ikeda"), ("橋本", "hashimoto"), ("阿部", "abe"),
    ("石川", "ishikawa"), ("前田", "maeda"), ("藤田", "fujita"), ("小川", "ogawa"), ("岡田", "okada"),
];
pub const GIVEN_NAMES: &[(&str, &str)] = &[
    ("翔", "sho"), ("陽菜", "hina"), ("大輔", "daisuke"), ("美咲", "misaki"), ("健太", "kenta"), ("彩", "aya"),
    ("直樹", "naoki"), ("由美", "yumi"), ("拓也", "takuya"), ("千尋", "chihiro"), ("亮", "ryo"), ("恵", "megumi"),
    ("誠", "makoto"), ("さくら", "sakura"), ("和也", "kazuya"), ("奈々", "nana"), ("隆", "takashi"), ("愛", "ai"),
    ("悠斗", "yuto"), ("結衣", "yui"),
];
pub const TITLES: &[&str] = &["代表取締役", "部長", "課長", "係長", "主任", "マネージャー", "担当"];

pub const PARTNERS: &[(&str, &str)] = &[
    ("P-ALPHA", "アルファ販売株式会社"),
    ("P-NISHI", "西日本ITパートナーズ株式会社"),
    ("P-KITA", "北海道クラウドサービス株式会社"),
    ("P-SOGO", "総合システム販売株式会社"),
    ("P-MIRAI", "みらいコンサルティング株式会社"),
];

/// (product id, name, share as first product)
pub const PRODUCTS: &[(&str, &str)] = &[
    ("expense", "クラウド経費精算"),
    ("invoice", "請求書受領クラウド"),
    ("workflow", "ワークフロー"),
];

//! Cases files and config resolution on disk.

use crate::util::tmp;

#[test]
fn cases_resolve_configs_relative_to_the_file() {
    let d = tmp("cases");
    std::fs::create_dir_all(d.join("configs")).unwrap();
    std::fs::write(
        d.join("configs/tiny.json"),
        r#"{"model_type":"llama","hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100}"#,
    )
    .unwrap();
    std::fs::write(
        d.join("cases.json"),
        r#"[{"id":"t1","source":"test","grade":"A","model":{"name":"tiny","hf_id":null,"config_file":"configs/tiny.json","params":null},
            "runtime":"transformers","task":"load","weights":{"dtype":"float16","quant":null,"bits":null,"group_size":null},
            "inference":null,"training":null,"parallel":{"gpus":1,"strategy":"none","cpu_offload":false},"gpu":null,
            "measured":{"bytes":1000000,"metric":"max_memory_allocated","per_device":true},"notes":""}]"#,
    )
    .unwrap();
    let file = vramfit_io::read_cases(&d.join("cases.json")).unwrap();
    assert_eq!(file.cases.len(), 1);
    let spec = file.spec(&file.cases[0]).unwrap();
    assert_eq!(spec.hidden_size, 64);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn malformed_cases_files_are_errors() {
    let d = tmp("bad");
    std::fs::write(d.join("a.json"), "{}").unwrap();
    assert!(vramfit_io::read_cases(&d.join("a.json")).unwrap_err().to_string().contains("list"));
    std::fs::write(d.join("b.json"), "[{\"id\": 3}]").unwrap();
    assert!(vramfit_io::read_cases(&d.join("b.json")).is_err());
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn models_resolve_from_catalog_then_path() {
    let m = vramfit_io::resolve_model("meta-llama/Llama-2-7b-hf").unwrap();
    assert_eq!((m.name.as_str(), m.origin.as_str()), ("llama-2-7b", "catalog"));
    let e = vramfit_io::resolve_model("no-such-model-xyz").unwrap_err();
    assert!(e.to_string().contains("unknown model"));
}

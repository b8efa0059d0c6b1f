use pip_runtime::declared::SpecDecl;

static SPEC: SpecDecl = pip_runtime::pip_spec!(payments);

fn main() {
    let _ = SPEC.declare();
}

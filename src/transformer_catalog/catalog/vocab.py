"""Closed vocabularies. The catalog paper's taxonomy (Amatriain et al., 2023) for architectures
and pretraining tasks, license categories, and the normalised names of the labs."""

ARCHITECTURES = ("encoder", "decoder", "encoder-decoder")

# Pretraining tasks of the paper's taxonomy, plus SOP (from its first version) and contrastive
# learning; anything else is `other` and must say what in `task_note`.
TASKS = {
    "LM": "language modelling (next token, either direction)",
    "causal LM": "left-to-right next-token prediction",
    "prefix LM": "bidirectional attention over a prefix, autoregressive after it",
    "MLM": "masked language modelling: predict hidden tokens from both sides",
    "PLM": "permuted language modelling over a sampled factorisation order",
    "DAE": "denoising autoencoder: reconstruct the original from a corrupted input",
    "RTD": "replaced token detection: is each token original or a generator's replacement",
    "NSP": "next sentence prediction: are two segments consecutive",
    "SOP": "sentence order prediction: are two segments in their original order",
    "contrastive": "pull matching pairs together and push others apart (InfoNCE)",
    "other": "an objective outside this taxonomy, named in task_note",
}

LICENSE_CATEGORIES = {
    "open": "open-source licence (OSI-approved or equivalent) for weights and code",
    "open-restricted": "weights available under use restrictions (RAIL, community licences)",
    "non-commercial": "weights available for research or non-commercial use only",
    "api": "closed weights, usable through a paid or gated API",
    "closed": "neither weights nor API publicly available",
    "code-only": "code released, weights not",
    "unknown": "no licence information found",
}

# One spelling per organisation. Keys are the spellings met in sources, values ours.
LABS = {
    "Google": "Google", "Google Research": "Google", "Google Brain": "Google",
    "DeepMind": "DeepMind", "Deepmind": "DeepMind", "Google DeepMind": "Google DeepMind",
    "OpenAI": "OpenAI", "Meta": "Meta", "Facebook": "Meta", "facebook": "Meta", "Facebook AI": "Meta",
    "Microsoft": "Microsoft", "NVIDIA": "NVIDIA", "NVidia": "NVIDIA", "EleutherAI": "EleutherAI",
    "Eleuther AI": "EleutherAI", "Hugging Face": "Hugging Face", "Huggingface": "Hugging Face",
    "BigScience": "BigScience", "Big Science": "BigScience", "Salesforce": "Salesforce", "Amazon": "Amazon",
    "Anthropic": "Anthropic", "AI21 Labs": "AI21 Labs", "AI21": "AI21 Labs", "Baidu": "Baidu",
    "Tsinghua University": "Tsinghua University", "Tsinghua": "Tsinghua University",
    "Stanford University": "Stanford University", "Stanford": "Stanford University",
    "UC Berkeley": "UC Berkeley", "Carnegie Mellon University": "Carnegie Mellon University", "CMU": "Carnegie Mellon University",
    "University of Washington": "University of Washington", "UW": "University of Washington",
    "Databricks": "Databricks", "BAAI": "BAAI", "LMU Munich": "LMU Munich", "Stability AI": "Stability AI",
    "Runway": "Runway", "Alibaba": "Alibaba", "DeepSeek": "DeepSeek", "Mistral AI": "Mistral AI",
    "Technology Innovation Institute": "Technology Innovation Institute", "Allen Institute for AI": "Allen Institute for AI",
    "xAI": "xAI", "Zhipu AI": "Zhipu AI", "University of Hong Kong": "University of Hong Kong",
    "LMSYS": "LMSYS", "LAION": "LAION", "Open Assistant": "LAION", "Huawei": "Huawei",
    "Peng Cheng Laboratory": "Peng Cheng Laboratory", "Pengcheng Lab": "Peng Cheng Laboratory",
    "Université de Montréal": "Université de Montréal", "Mila": "Mila", "Apple": "Apple",
    "University College London": "University College London", "UCL": "University College London",
    "Imperial College London": "Imperial College London", "MosaicML": "MosaicML", "Cohere": "Cohere",
    "IDSIA": "IDSIA", "TU Munich": "TU Munich", "University of Toronto": "University of Toronto",
    "New York University": "New York University", "Meta AI": "Meta", "Zalando": "Zalando",
    "Toyota Technological Institute at Chicago": "Toyota Technological Institute at Chicago",
    "UC San Diego": "UC San Diego", "MBZUAI": "MBZUAI", "Cornell University": "Cornell University",
    "Bell Labs": "Bell Labs", "Université de Montréal (Mila)": "Université de Montréal",
    "01.AI": "01.AI", "BigCode": "BigCode", "Moonshot AI": "Moonshot AI", "Answer.AI": "Answer.AI", "LightOn": "LightOn",
    "University of Wisconsin-Madison": "University of Wisconsin-Madison", "Columbia University": "Columbia University",
    "ServiceNow": "ServiceNow", "TII": "Technology Innovation Institute", "AI2": "Allen Institute for AI",
}

LAB_NAMES = sorted(set(LABS.values()))

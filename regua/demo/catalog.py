"""Brazilian reference data for the demo: names, cities, a shop's catalogue, companies."""

# fmt: off
FEMALE = [
    "Maria", "Ana", "Francisca", "Antônia", "Adriana", "Juliana", "Márcia", "Fernanda", "Patrícia",
    "Aline", "Sandra", "Camila", "Amanda", "Bruna", "Jéssica", "Letícia", "Júlia", "Luciana",
    "Vanessa", "Mariana", "Gabriela", "Beatriz", "Larissa", "Rafaela", "Carolina", "Isabela",
    "Clara", "Helena", "Alice", "Laura", "Manuela", "Valentina", "Sophia", "Lívia", "Cecília",
    "Eduarda", "Natália", "Tatiane", "Renata", "Simone", "Débora", "Priscila", "Raquel", "Cristina",
    "Luana", "Yasmin", "Lorena", "Giovanna", "Heloísa", "Rosângela",
]
MALE = [
    "José", "João", "Antônio", "Francisco", "Carlos", "Paulo", "Pedro", "Lucas", "Luiz", "Marcos",
    "Luís", "Gabriel", "Rafael", "Daniel", "Marcelo", "Bruno", "Eduardo", "Felipe", "Raimundo",
    "Rodrigo", "Manoel", "Mateus", "André", "Fernando", "Fábio", "Leonardo", "Gustavo", "Guilherme",
    "Leandro", "Tiago", "Anderson", "Ricardo", "Márcio", "Jorge", "Sebastião", "Alexandre",
    "Roberto", "Diego", "Vinícius", "Thiago", "Miguel", "Arthur", "Heitor", "Bernardo", "Davi",
    "Samuel", "Enzo", "Caio", "Otávio", "Henrique",
]
SURNAMES = [
    "Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima",
    "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Soares", "Fernandes",
    "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento", "Andrade", "Moreira", "Nunes", "Marques",
    "Machado", "Mendes", "Freitas", "Cardoso", "Ramos", "Gonçalves", "Santana", "Teixeira",
    "Araújo", "Pinto", "Correia", "Cavalcanti", "Monteiro", "Moura", "Campos", "Castro", "Rezende",
    "Barros", "Melo", "Azevedo", "Batista", "Queiroz", "Farias",
]
# (city, UF, area code, weight ~ share of an online shop's customers)
CITIES = [
    ("São Paulo", "SP", "11", 18), ("Rio de Janeiro", "RJ", "21", 10), ("Belo Horizonte", "MG", "31", 5),
    ("Brasília", "DF", "61", 5), ("Salvador", "BA", "71", 4), ("Fortaleza", "CE", "85", 4),
    ("Curitiba", "PR", "41", 4), ("Recife", "PE", "81", 3), ("Porto Alegre", "RS", "51", 3),
    ("Manaus", "AM", "92", 2), ("Belém", "PA", "91", 2), ("Goiânia", "GO", "62", 3),
    ("Campinas", "SP", "19", 3), ("Guarulhos", "SP", "11", 2), ("São Luís", "MA", "98", 1),
    ("Maceió", "AL", "82", 1), ("Natal", "RN", "84", 1), ("Teresina", "PI", "86", 1),
    ("Campo Grande", "MS", "67", 1), ("João Pessoa", "PB", "83", 1), ("Florianópolis", "SC", "48", 2),
    ("Joinville", "SC", "47", 1), ("Santos", "SP", "13", 1), ("Ribeirão Preto", "SP", "16", 1),
    ("Sorocaba", "SP", "15", 1), ("Niterói", "RJ", "21", 1), ("Uberlândia", "MG", "34", 1),
    ("Londrina", "PR", "43", 1), ("Cuiabá", "MT", "65", 1), ("Aracaju", "SE", "79", 1),
    ("Vitória", "ES", "27", 1), ("Porto Velho", "RO", "69", 1), ("Macapá", "AP", "96", 1),
    ("Boa Vista", "RR", "95", 1), ("Rio Branco", "AC", "68", 1), ("Palmas", "TO", "63", 1),
    ("Juiz de Fora", "MG", "32", 1), ("Caxias do Sul", "RS", "54", 1), ("Feira de Santana", "BA", "75", 1),
    ("Petrolina", "PE", "87", 1),
]
EMAIL_DOMAINS = [
    ("gmail.com", 52), ("hotmail.com", 18), ("outlook.com", 8), ("yahoo.com.br", 7),
    ("uol.com.br", 4), ("bol.com.br", 3), ("terra.com.br", 2), ("icloud.com", 4), ("live.com", 2),
]
SOURCES = [
    ("site", 35), ("instagram", 20), ("google", 15), ("indicacao", 10), ("whatsapp", 8),
    ("loja-fisica", 7), ("facebook", 5),
]
# Category (slug, name) → products (name, price in reais)
CATALOGUE = {
    ("perfumaria", "Perfumaria"): [
        ("Perfume Floral Jasmim 100 ml", 189.90), ("Perfume Amadeirado Cedro 100 ml", 219.90),
        ("Body Splash Maracujá 200 ml", 49.90), ("Colônia Infantil Camomila", 59.90),
        ("Deo Colônia Lavanda 150 ml", 89.90), ("Perfume Cítrico Bergamota 50 ml", 149.90),
        ("Kit Miniaturas de Perfume", 129.90),
    ],
    ("maquiagem", "Maquiagem"): [
        ("Base Líquida Matte", 79.90), ("Batom Cremoso Rosa Antigo", 34.90),
        ("Máscara de Cílios Volume", 54.90), ("Paleta de Sombras Terrosas", 99.90),
        ("Pó Compacto Translúcido", 59.90), ("Corretivo Alta Cobertura", 44.90),
        ("Delineador em Caneta", 39.90),
    ],
    ("pele", "Cuidados com a pele"): [
        ("Protetor Solar FPS 50 Toque Seco", 69.90), ("Sérum Vitamina C 30 ml", 119.90),
        ("Hidratante Facial Ácido Hialurônico", 89.90), ("Sabonete Líquido Facial", 42.90),
        ("Água Micelar 200 ml", 39.90), ("Creme para Mãos Karité", 29.90),
        ("Esfoliante Corporal Café", 49.90),
    ],
    ("cabelos", "Cabelos"): [
        ("Shampoo Reconstrução 300 ml", 39.90), ("Condicionador Hidratação 300 ml", 42.90),
        ("Máscara Capilar Nutrição 250 g", 59.90), ("Óleo Finalizador Argan", 54.90),
        ("Leave-in Cachos Definidos", 36.90), ("Kit Cronograma Capilar", 149.90),
    ],
    ("casa", "Casa e aromas"): [
        ("Vela Aromática Baunilha", 59.90), ("Difusor de Varetas Alecrim", 79.90),
        ("Água Perfumada para Tecidos", 44.90), ("Sabonete em Barra Artesanal", 19.90),
        ("Home Spray Lavanda", 49.90),
    ],
    ("presentes", "Presentes"): [
        ("Kit Presente Dia das Mães", 199.90), ("Kit Presente Dia dos Pais", 179.90),
        ("Caixa Presente Natal", 229.90), ("Vale-Presente R$ 100", 100.00),
        ("Kit Autocuidado", 159.90),
    ],
    ("masculino", "Linha masculina"): [
        ("Balm Pós-Barba", 44.90), ("Óleo para Barba", 39.90), ("Gel de Limpeza Facial Men", 37.90),
        ("Desodorante Antitranspirante Men", 24.90), ("Shampoo Anticaspa Men", 32.90),
    ],
    ("infantil", "Infantil"): [
        ("Shampoo Infantil Sem Lágrimas", 29.90), ("Hidratante Infantil Camomila", 34.90),
        ("Protetor Solar Kids FPS 60", 64.90), ("Sabonete Líquido Bebê", 27.90),
    ],
}
COMPANY_WORDS = [
    "Aurora", "Horizonte", "Ipê", "Jacarandá", "Tropical", "Atlântico", "Cerrado", "Pampa",
    "Sertão", "Pantanal", "Guanabara", "Paulista", "Mineira", "Baiana", "Carioca", "Nordeste",
    "Boa Vista", "Bela Vista", "Primavera", "Esperança", "Vitória", "Estrela", "Sol", "Lua",
    "Girassol", "Araucária", "Jequitibá", "Bem-te-vi", "Sabiá", "Tucano",
]
COMPANY_KINDS = [
    ("Salão", "Beleza e estética"), ("Farmácia", "Farmácia"), ("Spa", "Beleza e estética"),
    ("Hotel", "Hotelaria"), ("Clínica", "Saúde"), ("Barbearia", "Beleza e estética"),
    ("Academia", "Fitness"), ("Pousada", "Hotelaria"), ("Empório", "Varejo"), ("Drogaria", "Farmácia"),
]
COMPANY_SUFFIXES = ["Ltda", "ME", "Eireli", "S.A.", "Ltda"]
JOB_TITLES = {
    "decision_maker": ["Sócia-proprietária", "Diretor", "Proprietário", "Gerente geral"],
    "influencer": ["Gerente de compras", "Coordenadora", "Supervisor", "Esteticista-chefe"],
    "user": ["Recepcionista", "Atendente", "Auxiliar administrativo", "Cabeleireira"],
}
TEAM = [
    ("admin@regua.demo", "Ana", "Administradora", "admin"),
    ("gerente@regua.demo", "Marcos", "Tavares", "manager"),
    ("carla@regua.demo", "Carla", "Menezes", "agent"),
    ("rafael@regua.demo", "Rafael", "Brito", "agent"),
    ("juliana@regua.demo", "Juliana", "Prado", "agent"),
    ("thiago@regua.demo", "Thiago", "Fontes", "agent"),
]
COMPLAINT_REASONS = [
    "atraso na entrega", "produto avariado", "cobrança em duplicidade", "item errado",
    "demora no atendimento",
]
NOTES = [
    ("call", "Ligação de boas-vindas", "Cliente gostou da primeira compra; prefere contato por WhatsApp."),
    ("call", "Retorno sobre pedido", "Expliquei o prazo de entrega. Cliente satisfeito com a solução."),
    ("note", "Preferências", "Compra presentes para a mãe; interesse em kits de perfumaria."),
    ("meeting", "Reunião de alinhamento", "Apresentei a linha profissional; pediram proposta para o trimestre."),
    ("email", "Envio de proposta", "Proposta enviada com condição especial para pedidos acima de R$ 2.000."),
    ("whatsapp", "Dúvida sobre produto", "Perguntou sobre o protetor solar para pele oleosa; indiquei o toque seco."),
    ("visit", "Visita à loja", "Conheci o espaço; potencial para revender a linha de cabelos."),
    ("call", "Pesquisa de satisfação", "Nota 9. Sugeriu mais opções de fragrâncias amadeiradas."),
]
# fmt: on
DEMO_PASSWORD = "regua-demo"  # noqa: S105 (the demo's published login)
